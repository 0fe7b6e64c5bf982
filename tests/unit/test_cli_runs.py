import json
import os
import subprocess

import pytest

from repro.cli import main
from repro.store.runs import RunStore
from tests.helpers import example_manifest


@pytest.fixture
def project(tmp_path, monkeypatch):
    subprocess.run(['git', 'init', '-q', str(tmp_path)], check=True)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv('REPRO_HOME', raising=False)
    store = RunStore.for_project(str(tmp_path)).ensure()
    ids = []
    for i, status in enumerate(('succeeded', 'failed')):
        run_id = f'20261124-02100{i}-cartpole_vpg-s{i}-ab1{i}'
        os.mkdir(store.run_dir(run_id))
        manifest = example_manifest()
        manifest.update(run_id=run_id, status=status, seed=i)
        store.write_manifest(run_id, manifest)
        ids.append(run_id)
    return ids


def test_ls_table_and_json(project, capsys):
    assert main(['ls']) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:2] == ['RUN', 'ID']
    assert [ln.split()[0] for ln in lines[1:]] == project
    assert main(['ls', '--json']) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r['run_id'], r['status'], r['seed']) for r in rows] == \
        [(project[0], 'succeeded', 0), (project[1], 'failed', 1)]


def test_show_by_unique_prefix_and_json(project, capsys):
    assert main(['show', project[1][:-1]]) == 0
    assert project[1] in capsys.readouterr().out
    assert main(['show', project[0], '--json']) == 0
    assert json.loads(capsys.readouterr().out)['run_id'] == project[0]


@pytest.mark.parametrize('ref, message', [
    ('20261124-0210', 'matches 2 runs'),
    ('2030', 'no run matches'),
    ('../../etc/passwd', 'not a valid run id'),
])
def test_show_bad_ids_are_one_line_errors(project, capsys, ref, message):
    assert main(['show', ref]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count('\n') == 1 and 'Traceback' not in err


def test_outside_a_repository(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv('REPRO_HOME', raising=False)
    assert main(['ls']) == 2
    assert 'not inside a git repository' in capsys.readouterr().err


def test_lock_without_inputs_is_a_one_line_error(project, capsys):
    assert main(['lock']) == 2
    assert 'requirements.in' in capsys.readouterr().err


def test_ls_survives_a_broken_run(project, capsys):
    store = RunStore.for_project('.')
    os.mkdir(store.run_dir('20261124-021009-broken-s0-dead'))  # no manifest yet
    assert main(['ls']) == 0
    out = capsys.readouterr().out
    row = next(ln for ln in out.splitlines() if ln.startswith('20261124-021009-broken'))
    assert row.split()[1] == 'broken' and 'manifest.json is missing' in row
    assert project[0] in out and project[1] in out


def test_ls_show_and_replay_name_a_run_whose_repro_died_stale(project, capsys):
    import sys

    from repro.engines.liveness import runner_record
    store = RunStore.for_project(os.getcwd())
    child = subprocess.Popen([sys.executable, '-c', 'pass'])
    manifest = store.read_manifest(project[0])
    manifest.update(status='running', runner=runner_record(child.pid))
    child.wait()
    store.write_manifest(project[0], manifest)
    assert main(['ls', '--json']) == 0
    assert json.loads(capsys.readouterr().out)[0]['status'] == 'stale'
    assert main(['show', project[0]]) == 0
    assert '(stale)' in capsys.readouterr().out
    assert main(['replay', project[0]]) == 2
    assert 'its repro process is gone (stale)' in capsys.readouterr().err
