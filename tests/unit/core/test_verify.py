import hashlib
import os

from repro.cli import main
from repro.store.manifest import artifacts
from repro.store.runs import RunStore
from repro.audit.verify import verify_run
from tests.helpers import example_manifest, make_run


def test_an_intact_run_verifies(tmp_path):
    store, run_id = make_run(tmp_path / 'store')
    assert verify_run(store, run_id) == ([], 4)


def test_recomputed_artifact_hash_in_the_manifest_is_still_caught(tmp_path):
    """Editing the file and its recorded hash breaks the manifest digest."""
    import json
    store, run_id = make_run(tmp_path / 'store')
    run_dir = store.run_dir(run_id)
    with open(os.path.join(run_dir, 'logs', 'stdout.log'), 'wb') as f:
        f.write(b'forged\n')
    path = store.manifest_path(run_id)
    manifest = json.load(open(path))
    manifest['artifacts'] = artifacts(run_dir)
    from repro.store.manifest import render
    open(path, 'w').write(render(manifest))
    problems, _ = verify_run(store, run_id)
    assert problems == ['manifest.json content does not match its integrity digest']


def test_cli_verify_exit_codes(tmp_path, monkeypatch, capsys):
    store, run_id = make_run(tmp_path / 'store')
    monkeypatch.setenv('REPRO_HOME', str(tmp_path / 'store'))
    assert main(['verify', run_id[:-2]]) == 0
    assert 'verified' in capsys.readouterr().out
    os.unlink(os.path.join(store.run_dir(run_id), 'logs', 'stdout.log'))
    assert main(['verify', run_id]) == 3
    captured = capsys.readouterr()
    assert 'missing: logs/stdout.log' in captured.out
    assert captured.err.startswith('repro: error: run ') and captured.err.count('\n') == 1
