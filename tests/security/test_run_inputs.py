"""What ``repro run`` takes from the user and from the container's outputs."""
import os
import subprocess

import pytest

from repro import contract
from repro.errors import ConfigError, SourceError
from repro.execute.container import runtime_report
from repro.execute.run import check_inputs, resolve_launcher


@pytest.mark.parametrize('seed', [-1, 2**32, 2**64, True, 1.5])
def test_seeds_outside_the_numpy_range_are_refused(seed):
    with pytest.raises(ConfigError, match='invalid seed'):
        check_inputs(seed, [])


def test_seed_bounds_are_accepted():
    check_inputs(0, [])
    check_inputs(2**32 - 1, [])


def test_arguments_that_are_not_text_are_refused():
    with pytest.raises(ConfigError, match=r'\\xff is not UTF-8'):
        check_inputs(0, [os.fsdecode(b'--name=\xff')])


def test_launcher_linked_from_outside_the_repository_is_refused(tmp_path):
    repo, outside = tmp_path / 'repo', tmp_path / 'outside'
    outside.mkdir()
    (outside / 'evil.py').write_text('print(1)\n')
    subprocess.run(['git', 'init', '-q', str(repo)], check=True)
    os.symlink(outside / 'evil.py', repo / 'train.py')
    with pytest.raises(SourceError, match='outside the repository'):
        resolve_launcher(str(repo / 'train.py'))
    (repo / 'ok.py').write_text('print(1)\n')
    assert resolve_launcher(str(repo / 'ok.py'))[1] == 'ok.py'


def test_runtime_report_through_a_link_is_not_read(tmp_path, host_secret):
    outputs = tmp_path / 'outputs'
    (outputs / '.repro').mkdir(parents=True)
    os.symlink(host_secret, outputs / contract.REPORT)
    assert runtime_report(str(outputs)) == {}
    os.unlink(outputs / contract.REPORT)
    os.mkfifo(outputs / contract.REPORT)  # would block a plain open()
    assert runtime_report(str(outputs)) == {}
    os.unlink(outputs / contract.REPORT)
    (outputs / contract.REPORT).write_text('{"torch": "2.13.0"}')
    assert runtime_report(str(outputs)) == {'torch': '2.13.0'}
    (outputs / contract.REPORT).write_text('[1]' + ' ' * (1 << 17))
    assert runtime_report(str(outputs)) == {}  # too large, or not an object


class Engine:
    """Stands in for the container: writes what a hostile launcher would."""

    def __init__(self, write):
        self.write = write
        self.mounts = None

    def version(self):
        return 'fake'

    def image_layers(self, ref):
        return []

    def run(self, image, command, **kwargs):
        self.mounts = kwargs['mounts']
        outputs = next(host for host, cont, _ in kwargs['mounts'] if cont == contract.OUTPUTS)
        self.write(outputs)
        return 0, None


def _execute(tmp_path, write, monkeypatch):
    from repro.engines import reaper
    from repro.execute.container import execute
    from repro.execute.prepare import PreparedRun
    from repro.execute.runspec import RunIO, RunSpec
    from repro.store.runs import RunStore
    monkeypatch.setattr(reaper, 'spawn', lambda *a, **k: None)
    monkeypatch.setattr('repro.execute.hostinfo.host_record', lambda version: {'engine': version})
    store = RunStore(str(tmp_path / 'store')).ensure()
    engine = Engine(write)
    prepared = PreparedRun(
        tree='b' * 40, files=(), src=str(tmp_path),
        git_record={'commit': None, 'branch': None, 'remote': None, 'dirty': True,
                    'tree': 'b' * 40, 'diff_sha256': __import__('hashlib').sha256(
                        b'd').hexdigest()},
        diff=b'd', lock_path='requirements.lock', lock_bytes=b'lock',
        image_record={'id': 'sha256:' + 'e' * 64, 'key': 'f' * 64, 'base': 'b',
                      'base_digest': 'sha256:' + '1' * 64, 'dockerfile_sha256': '2' * 64,
                      'layers': []})
    run_id, status, code = execute(
        engine, store, RunSpec('train.py', 0), prepared,
        RunIO(open(os.devnull, 'wb'), lambda m: None))
    return store, engine, run_id, status, code


def test_container_gets_its_outputs_only_and_meta_stays_host_written(tmp_path, monkeypatch):
    from repro.audit.verify import verify_run
    store, engine, run_id, status, _ = _execute(tmp_path, lambda out: None, monkeypatch)
    assert status == 'succeeded'
    writable = [(host, cont) for host, cont, mode in engine.mounts if mode != 'ro']
    assert writable == [(os.path.join(store.run_dir(run_id), 'outputs'), contract.OUTPUTS)]
    assert verify_run(store, run_id) == ([], 3)  # stdout.log and two meta files


def test_output_names_that_are_not_utf8_are_recorded_and_verified(tmp_path, monkeypatch):
    from repro.store.manifest_loader import load
    from repro.audit.verify import verify_run

    def write(outputs):
        with open(os.fsencode(outputs) + b'/r\xe9sultat.csv', 'wb') as f:
            f.write(b'x\n')
        os.mkfifo(os.path.join(outputs, 'pipe'))
    store, _, run_id, status, code = _execute(tmp_path, write, monkeypatch)
    assert (status, code) == ('succeeded', 0)
    paths = [a['path'] for a in load(store, run_id)['artifacts']]
    assert 'outputs/r\\xe9sultat.csv' in paths and 'outputs/pipe' in paths
    assert verify_run(store, run_id)[0] == []


def test_outputs_that_cannot_be_recorded_fail_the_run_with_the_reason(tmp_path, monkeypatch):
    import repro.execute.container
    from repro.store.manifest_loader import load

    def boom(*args, **kwargs):
        raise OSError(5, 'Input/output error')
    monkeypatch.setattr(repro.execute.container, 'artifacts', boom)
    store, _, run_id, status, code = _execute(tmp_path, lambda out: None, monkeypatch)
    manifest = load(store, run_id)
    assert (status, manifest['status']) == ('failed', 'failed') and code == 1
    assert 'Input/output error' in manifest['error']


def test_setuid_and_world_writable_outputs_are_defused(tmp_path, monkeypatch):
    """A container running as root can set these bits on what it writes."""
    import stat

    from repro.audit.verify import verify_run

    def write(outputs):
        tool = os.path.join(outputs, 'tool')
        open(tool, 'w').close()
        os.chmod(tool, 0o4755)
        os.mkdir(os.path.join(outputs, 'drop'))
        os.chmod(os.path.join(outputs, 'drop'), 0o777)
    store, _, run_id, status, _ = _execute(tmp_path, write, monkeypatch)
    outputs = os.path.join(store.run_dir(run_id), 'outputs')
    assert status == 'succeeded'
    assert stat.S_IMODE(os.stat(os.path.join(outputs, 'tool')).st_mode) == 0o755
    assert stat.S_IMODE(os.stat(os.path.join(outputs, 'drop')).st_mode) == 0o775
    assert verify_run(store, run_id)[0] == []


def test_a_report_that_is_not_unicode_never_leaves_a_run_running(tmp_path, monkeypatch):
    from repro.store.manifest_loader import load

    def write(outputs):
        os.makedirs(os.path.join(outputs, '.repro'))
        with open(os.path.join(outputs, contract.REPORT), 'w') as f:
            f.write('{"torch": "\\ud800"}')
    store, _, run_id, status, _ = _execute(tmp_path, write, monkeypatch)
    manifest = load(store, run_id)
    assert status == manifest['status'] == 'succeeded' and manifest['determinism'] == {}


def test_a_second_ctrl_c_while_outputs_are_hashed_never_leaves_running(tmp_path, monkeypatch):
    import pytest

    import repro.execute.container
    from repro.store.manifest_loader import load

    def write(outputs):
        raise KeyboardInterrupt  # the first Ctrl-C, during the run

    def hashing(*args, **kwargs):
        raise KeyboardInterrupt  # the second, while the outputs are hashed
    monkeypatch.setattr(repro.execute.container, 'artifacts', hashing)
    with pytest.raises(KeyboardInterrupt):
        _execute(tmp_path, write, monkeypatch)
    from repro.store.runs import RunStore
    store = RunStore(str(tmp_path / 'store'))
    [run_id] = store.run_ids()
    manifest = load(store, run_id)
    assert manifest['status'] == 'interrupted' and manifest['exit_code'] == 130


def test_a_manifest_without_an_image_id_is_not_replayed(tmp_path):
    import pytest

    from repro.errors import ReplayError
    from repro.execute.recorded import ensure_recorded_image
    from tests.helpers import example_manifest
    manifest = example_manifest()
    manifest['image']['id'] = None
    with pytest.raises(ReplayError, match='records no image ID'):
        ensure_recorded_image(Engine(lambda out: None), None, manifest, b'lock', 'FROM x\n',
                              lambda m: None)
