"""Issue 9: everything a container writes is untrusted input.

Each test plays the attacker: a malicious launcher's outputs (or a forged run
directory) hold pickles that run code, FIFOs, links to host files, binary or
huge tables, garbage event files, names with escape sequences. Whatever
compare, ``repro diff`` and ``repro plot`` do with them, nothing on the host
is read, written or executed through them, they return promptly, and the
user sees a divergence, a note or a one-line error, never a traceback.
"""
import json
import os
import pathlib
import pickle
import re
import subprocess
import sys
import threading

import pytest

from repro.core import safefs
from repro.audit.compare import compare_outputs
from repro.contentcheck import MARKER, in_image, parse_result
from repro.errors import ReplayError, ReproError
from repro.audit.plot import progress_rows
from repro.audit.rundiff import final_metrics
from repro.store.runs import RunStore
from tests.support import ROOT
from tests.helpers import example_manifest

SECRET = 'TOP-SECRET-host-content-31337'
TABLE = 'Epoch,AverageReturn\n0,1.0\n1,2.0\n'


def within(seconds, fn, *args):
    """``fn(*args)``'s result or exception, failing the test if it blocks."""
    box = {}

    def target():
        try:
            box['value'] = fn(*args)
        except BaseException as exc:  # noqa: B902  (handed back to the test)
            box['error'] = exc
    thread = threading.Thread(target=target, daemon=True)  # a hung one is abandoned
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f'{fn.__name__} blocked for {seconds} s'
    return box.get('value', box.get('error'))


@pytest.fixture
def secret(tmp_path):
    """A host file and directory outside any run, holding the secret."""
    (tmp_path / 'host').mkdir()
    (tmp_path / 'host' / 'progress.csv').write_text(f'Epoch,AverageReturn\n0,{SECRET}\n')
    return tmp_path / 'host'


def outputs(tmp_path, name, files=None):
    root = tmp_path / name / 'outputs'
    root.mkdir(parents=True, exist_ok=True)
    for rel, data in (files or {}).items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data if isinstance(data, bytes) else data.encode())
    return root


def compared(*args, **kwargs):
    """compare_outputs' (first divergence, report lines)."""
    result = compare_outputs(*args, **kwargs)
    return result.first, result.report


def all_text(first, report):
    """Everything compare handed back, as one string to search for leaks."""
    return '\n'.join([str(first), *report])


class Reduce:
    """A pickle that runs ``command`` wherever it is loaded."""

    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        return os.system, (self.command,)


def test_a_pickle_that_runs_code_is_never_loaded_on_the_host(tmp_path):
    pwned = tmp_path / 'pwned'
    a = outputs(tmp_path, 'a', {'params.pkl': pickle.dumps(Reduce(f'touch {pwned} #1'))})
    b = outputs(tmp_path, 'b', {'params.pkl': pickle.dumps(Reduce(f'touch {pwned} #2'))})
    first, report = within(10, compared, str(a.parent), str(b.parent))
    assert first.path == 'outputs/params.pkl' and 'not compared on the host' in str(first)
    assert not pwned.exists()


@pytest.mark.parametrize('fifos_in', [('a', 'b'), ('a',), ('b',)])
def test_a_fifo_in_outputs_never_blocks_compare(tmp_path, fifos_in):
    names = ('progress.csv', 'params.pkl', 'tb/events.out.tfevents.1.repro.1.0', 'debug.log')
    roots = {}
    for side in 'ab':
        files = {} if side in fifos_in else dict.fromkeys(names, side)
        roots[side] = outputs(tmp_path, side, files)
        for rel in names if side in fifos_in else ():
            (roots[side] / rel).parent.mkdir(parents=True, exist_ok=True)
            os.mkfifo(roots[side] / rel)
    first, report = within(10, compared, str(roots['a'].parent), str(roots['b'].parent))
    if len(fifos_in) == 2:
        assert first is None
        assert 'not a regular file, not read: outputs/progress.csv' in report
    else:
        kinds = ('fifo', 'file') if fifos_in == ('a',) else ('file', 'fifo')
        assert first.path == 'outputs/progress.csv'
        assert first.where == 'a {} in the original, a {} in the replay'.format(*kinds)


def test_fifo_and_links_never_block_or_leak_in_diff_and_plot(tmp_path, secret):
    run = outputs(tmp_path, 'r', {'ok/progress.csv': TABLE})
    os.mkfifo(run / 'stuck.csv')
    os.symlink(secret / 'progress.csv', run / 'linked.csv')
    os.symlink(secret, run / 'dir')  # a linked directory: never entered
    metrics, notes = within(10, final_metrics, str(run.parent))
    assert list(metrics) == ['outputs/ok/progress.csv']
    assert 'skipped outputs/stuck.csv: a fifo, not read' in notes
    assert 'skipped outputs/linked.csv: a link, not read' in notes
    assert SECRET not in repr((metrics, notes))
    os.unlink(run / 'ok' / 'progress.csv')
    os.mkfifo(run / 'ok' / 'progress.csv')
    error = within(10, progress_rows, str(run.parent))
    assert isinstance(error, ReproError) and 'is a fifo, not a regular file' in str(error)


def test_links_are_compared_by_target_string_never_opened(tmp_path, secret):
    a, b = outputs(tmp_path, 'a'), outputs(tmp_path, 'b')
    os.symlink(secret / 'progress.csv', a / 'progress.csv')
    os.symlink(secret / 'progress.csv', b / 'progress.csv')
    os.symlink(secret, a / 'data')
    os.symlink('/etc', b / 'data')
    first, report = within(10, compared, str(a.parent), str(b.parent))
    assert 'identical: outputs/progress.csv' in report
    assert first.path == 'outputs/data' and first.where == 'link targets differ'
    assert SECRET not in all_text(first, report)


@pytest.mark.parametrize('content, expected', [
    (b'Epoch,AverageReturn\n0,\xff\xfe\n', 'not UTF-8'),
    (b'Epoch,AverageReturn\n0,"' + b'x' * 200_000 + b'"\n', 'not a readable CSV'),
])
def test_malformed_tables_diverge_are_noted_or_one_line_errors(tmp_path, content, expected):
    a = outputs(tmp_path, 'a', {'progress.csv': TABLE})
    b = outputs(tmp_path, 'b', {'progress.csv': content})
    first, _ = within(10, compared, str(a.parent), str(b.parent))
    assert first.path == 'outputs/progress.csv' and expected in str(first)
    metrics, notes = final_metrics(str(b.parent))
    assert metrics == {} and len(notes) == 1 and expected in notes[0]
    with pytest.raises(ReproError, match=expected):
        progress_rows(str(b.parent))


def test_huge_files_are_refused_by_size_before_reading(tmp_path):
    a = outputs(tmp_path, 'a', {'progress.csv': TABLE})
    b = outputs(tmp_path, 'b')
    with open(b / 'progress.csv', 'wb') as f:  # sparse: no disk used
        f.truncate(safefs.MAX_TABLE + 1)
    first, _ = within(10, compared, str(a.parent), str(b.parent))
    assert 'too large' in str(first)
    assert 'too large' in final_metrics(str(b.parent))[1][0]
    with pytest.raises(ReproError, match='too large'):
        progress_rows(str(b.parent))


@pytest.mark.parametrize('garbage', [b'\x00' * 7, b'\xff' * 64, 'truncated'])
def test_garbage_event_files_are_a_divergence(tmp_path, garbage):
    from repro.log.tensorboard import encode_event, tfrecord
    good = tfrecord(encode_event(1.0, 1, scalars={'loss': 0.5}))
    name = 'tb/events.out.tfevents.1795491604.repro.1.0'
    a = outputs(tmp_path, 'a', {name: good})
    b = outputs(tmp_path, 'b', {name: good[:-5] if garbage == 'truncated' else garbage})
    first, _ = within(10, compared, str(a.parent), str(b.parent))
    assert 'the replay is not a readable event file' in first.where


def test_names_with_escapes_and_undecodable_bytes_are_displayed_safely(tmp_path):
    evil = os.fsdecode(b'\xff\x1b[2J\nevil.csv')
    a = outputs(tmp_path, 'a')
    (a / evil).write_text(TABLE)
    b = outputs(tmp_path, 'b')
    first, report = compared(str(a.parent), str(b.parent))
    text = all_text(first, report)
    assert '\x1b' not in text and '\\xff\\x1b[2J\\nevil.csv' in text
    assert '\n' not in str(first)
    metrics, _ = final_metrics(str(a.parent))
    assert list(metrics) == [f'outputs/{evil}']


def repro_cli(*args, home):
    """`repro ...` as a user runs it: exit code, stdout, stderr; 10 s or fail."""
    result = subprocess.run([sys.executable, '-m', 'repro', *args], cwd=ROOT,
                            env=dict(os.environ, REPRO_HOME=str(home)),
                            capture_output=True, text=True, timeout=10)
    return result.returncode, result.stdout, result.stderr


def recorded_run(store, seed, files):
    """A finished run in ``store`` whose outputs hold ``files``."""
    run_id = store.create_run('train.py', seed)
    outputs(pathlib.Path(store.run_dir(run_id)), '.', files)
    manifest = example_manifest()
    manifest.update(run_id=run_id, seed=seed)
    store.write_manifest(run_id, manifest)
    return run_id


def test_repro_diff_and_plot_on_a_hostile_run(tmp_path, secret):
    (tmp_path / 'store').mkdir()
    store = RunStore(tmp_path / 'store')
    a = recorded_run(store, 0, {'progress.csv': TABLE})
    b = recorded_run(store, 1, {})
    out_b = pathlib.Path(store.run_dir(b)) / 'outputs'
    os.symlink(secret / 'progress.csv', out_b / 'progress.csv')
    os.mkfifo(out_b / 'stuck.csv')
    code, out, err = repro_cli('diff', a, b, home=store.root)
    assert code == 0, err
    assert 'b: skipped outputs/progress.csv: a link, not read' in out
    assert 'seed: 0 -> 1' in out and SECRET not in out + err
    code, out, err = repro_cli('plot', a, b, '-o', tmp_path / 'p.png', home=store.root)
    assert code != 0 and SECRET not in out + err and 'Traceback' not in err
    assert err.strip().count('\n') == 0 and 'is a link, not a regular file' in err


# -- content comparison in the image: the container's answer is untrusted too --

class FakeEngine:
    """Stands in for DockerEngine: records the call, prints ``output``; with
    ``hang`` the container runs until it is stopped."""

    def __init__(self, output=b'', code=0, hang=False):
        self.output, self.code, self.hang, self.calls = output, code, hang, []
        self.stopped = threading.Event()

    def run(self, image, command, *, env=None, mounts=(), user=None, network=False,
            workdir=None, gpus=None, on_output=None, read_only_root=False, labels=None,
            on_start=None, hostname=None):
        self.calls.append(dict(image=image, command=command, mounts=mounts, user=user,
                               network=network, read_only_root=read_only_root, env=env))
        on_start('c0ffee')
        for i in range(0, len(self.output), 1000):
            on_output(self.output[i:i + 1000])
        if self.hang:
            assert self.stopped.wait(10), 'never stopped'
            return 137, None
        return self.code, None

    def stop_container(self, container_id):
        assert container_id == 'c0ffee'
        self.stopped.set()
        return True


def answer(obj):
    return f'noise\n{MARKER} {json.dumps(obj)}\nmore noise\n'.encode()


def test_in_image_runs_one_confined_container_and_parses_its_answer(tmp_path):
    engine = FakeEngine(answer([None, 'x: 1 != 2']))
    content = in_image(engine, 'sha256:img', str(tmp_path / 'a'), str(tmp_path / 'b'))
    assert content([('p.pkl', 'p.pkl'), ('m.zip', 'm.zip', 'd/q.pkl')]) == \
        {('p.pkl', 'p.pkl'): None, ('m.zip', 'm.zip', 'd/q.pkl'): 'x: 1 != 2'}
    (call,) = engine.calls
    assert call['command'][:3] == ['python', '-m', 'repro.contentcheck']
    assert json.loads(call['command'][-1]) == [['p.pkl', 'p.pkl'], ['m.zip', 'm.zip', 'd/q.pkl']]
    # an image made before archives were compared answers {rel_a: text}
    legacy = in_image(FakeEngine(answer({'p.pkl': 'y'})), 'img', '/a', '/b')
    assert legacy([('p.pkl', 'p.pkl')]) == {('p.pkl', 'p.pkl'): 'y'}
    assert all(mode == 'ro' for _h, _c, mode in call['mounts'])
    assert call['network'] is False and call['read_only_root'] is True
    assert call['user'] == f'{os.getuid()}:{os.getgid()}'


@pytest.mark.parametrize('output, code, message', [
    (b'Traceback ...\nModuleNotFoundError: no cloudpickle\n', 1, 'failed (exit 1)'),
    (b'nothing useful\n', 0, 'gave no answer'),
    (f'{MARKER} {{"p.pkl": NaN}}\n'.encode(), 0, 'invalid JSON'),
    (f'{MARKER} {{"p.pkl": nul'.encode(), 0, 'invalid JSON'),
    (answer({'p.pkl': None, '/etc/passwd': None}), 0, 'other files than asked'),
    (answer({'p.pkl': 3}), 0, 'not with text'),
    (answer([None, None]), 0, 'other files than asked'),
    (b'x' * (5 << 20), 0, 'printed more than'),
])
def test_a_bad_answer_from_the_container_is_a_one_line_replay_error(output, code, message):
    content = in_image(FakeEngine(output, code), 'img', '/a', '/b')
    with pytest.raises(ReplayError, match=re.escape(message)) as info:
        content([('p.pkl', 'p.pkl')])
    assert '\n' not in str(info.value)


def test_a_container_that_never_ends_is_stopped_after_the_timeout():
    engine = FakeEngine(hang=True)
    content = in_image(engine, 'img', '/a', '/b', timeout=0.2)
    error = within(10, content, [('p.pkl', 'p.pkl')])
    assert isinstance(error, ReplayError) and 'took more than 0.2 s' in str(error)
    assert engine.stopped.is_set()


def test_the_source_is_mounted_read_only_with_the_launchers_directory_on_the_path():
    engine = FakeEngine(answer({'p.pkl': None}))
    in_image(engine, 'img', '/a', '/b', src='/tmp/src', launcher='exp/train.py')(
        [('p.pkl', 'p.pkl')])
    (call,) = engine.calls
    assert ('/tmp/src', '/src', 'ro') in call['mounts']
    assert call['env'] == {'PYTHONPATH': '/src/exp'}


def test_the_last_marker_line_wins_and_long_texts_are_cut():
    forged = f'{MARKER} {{"p.pkl": null}}\n'.encode()
    asked = [('p.pkl', 'p.pkl')]
    assert parse_result(forged + answer(['y' * 5000]), asked)[asked[0]] == 'y' * 1000 + '...'


def test_paths_sent_into_the_container_must_be_plain_relative_paths():
    engine = FakeEngine(answer({}))
    for bad in ('../outside.pkl', '/etc/passwd', 'a/../../b.pkl'):
        with pytest.raises(ReproError, match='not a plain relative path'):
            in_image(engine, 'img', '/a', '/b')([(bad, 'p.pkl')])
    assert engine.calls == []


@pytest.mark.docker
def test_pickles_are_compared_inside_the_run_image(tmp_path, base_image):
    """Real image, real container: equal content with different bytes is equal,
    a changed value diverges, and a pickle's code cannot touch the host."""
    from repro.engines.dockerengine import DockerEngine
    from tests.support import git_project, repro, small_lock_files
    project = git_project(tmp_path / 'p', small_lock_files('contentcheck'))
    built = repro('build', cwd=project).stdout.strip().splitlines()[-1].split()
    image_id = built[1]
    pwned = tmp_path / 'pwned'
    a = outputs(tmp_path, 'a', {
        'same.pkl': pickle.dumps({'x': 1, 'y': [1.5]}, protocol=2),
        'changed.pkl': pickle.dumps({'x': 1}),
        'evil.pkl': pickle.dumps(Reduce(f'touch {pwned} /compare/b/outputs/pwned; echo 1')),
    })
    b = outputs(tmp_path, 'b', {
        'same.pkl': pickle.dumps({'x': 1, 'y': [1.5]}, protocol=4),
        'changed.pkl': pickle.dumps({'x': 2}),
        'evil.pkl': pickle.dumps(Reduce(f'touch {pwned} /compare/b/outputs/pwned; echo 2')),
    })
    content = in_image(DockerEngine.connect(), image_id, str(a.parent), str(b.parent))
    first, report = compared(str(a.parent), str(b.parent), content=content)
    assert 'equal content: outputs/same.pkl' in report
    assert first.path == 'outputs/changed.pkl' and "$['x']: 1 != 2" in first.where
    assert 'equal content: outputs/evil.pkl' in report  # its code ran, confined
    assert not pwned.exists() and not (b / 'pwned').exists()
