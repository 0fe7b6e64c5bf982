"""Replay refuses bad input with one line, before Docker is touched."""
import os
import shutil

import pytest

from repro.cli import main
from repro.errors import ReplayError
from repro.audit.replay import check_inputs, host_differences
from repro.store.runs import RunStore
from tests.helpers import git
from tests.helpers import example_manifest


@pytest.fixture
def recorded(repo, tmp_path, monkeypatch):  # noqa: F811
    """A finished run whose source, lock and Dockerfile are in the store."""
    import hashlib

    from repro.record.gitsource import snapshot_source
    store = RunStore(tmp_path / 'store')
    snap = snapshot_source(str(repo), store)
    lock, dockerfile = b'six==1.16.0 --hash=sha256:x\n', b'FROM base\n'
    for data in (lock, dockerfile):
        store.put_object(hashlib.sha256(data).hexdigest(), data)
    run_id = store.create_run('train.py', 0)
    manifest = example_manifest()
    manifest.update(run_id=run_id, git=snap.git_record())
    manifest['lock']['sha256'] = hashlib.sha256(lock).hexdigest()
    manifest['image']['dockerfile_sha256'] = hashlib.sha256(dockerfile).hexdigest()
    store.write_manifest(run_id, manifest)
    monkeypatch.setenv('REPRO_HOME', str(store.root))
    monkeypatch.setenv('DOCKER_HOST', f'unix://{tmp_path}/no-docker.sock')
    return store, run_id, manifest


def test_intact_inputs_pass(recorded):
    store, _, manifest = recorded
    files, lock, dockerfile = check_inputs(store, manifest)
    assert lock.startswith(b'six') and dockerfile == 'FROM base\n' and files


def test_deleted_source_snapshot(recorded):
    store, _, manifest = recorded
    shutil.rmtree(os.path.join(store.root, 'trees'))
    with pytest.raises(ReplayError, match='source snapshot .* is missing from the store'):
        check_inputs(store, manifest)


def test_tampered_source_file_is_named(recorded):
    store, _, manifest = recorded
    files = store.get_tree(manifest['git']['tree'])
    path, _, oid = next(f for f in files if f[0] == 'train.py')
    pack, offset, size = store.object_location(oid)
    with open(pack, 'r+b') as f:  # same length, one byte different
        f.seek(offset)
        first = f.read(1)
        f.seek(offset)
        f.write(bytes([first[0] ^ 1]))
    with pytest.raises(ReplayError, match='source file train.py in the store does not match'):
        check_inputs(store, manifest)


def test_missing_lock_is_named(recorded):
    store, _, manifest = recorded
    os.unlink(store.object_path(manifest['lock']['sha256']))
    with pytest.raises(ReplayError, match='requirements.lock of the run is missing'):
        check_inputs(store, manifest)


@pytest.mark.parametrize('change, message', [
    (lambda m: m.update(status='running'), 'still running or never finished'),
    (lambda m: m.update(format=7), 'format 7 is not supported'),
])
def test_cli_bad_runs_are_one_line_errors(recorded, capsys, change, message):
    store, run_id, manifest = recorded
    change(manifest)
    store.write_manifest(run_id, manifest)
    assert main(['replay', run_id]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count('\n') == 1


def test_cli_unknown_run(recorded, capsys):
    assert main(['replay', '1999']) == 2
    assert 'no run matches' in capsys.readouterr().err


def test_host_differences_name_what_matters():
    a = {'cpu': {'model': 'X', 'flags_sha256': '1'}, 'gpus': [], 'kernel': '6.1'}
    b = {'cpu': {'model': 'Y', 'flags_sha256': '1'}, 'gpus': [], 'kernel': '6.1'}
    assert host_differences(a, a) == []
    assert host_differences(a, b) == ["CPU model differs: 'X' -> 'Y'"]


def test_unbuildable_image_says_what_is_missing():
    from repro.audit.replay import ensure_recorded_image
    from tests.fakes import PlanEngine as FakeEngine
    from tests.helpers import example_manifest
    manifest = example_manifest()
    with pytest.raises(ReplayError, match='base image sha256:1111.* is missing.*repro base'):
        ensure_recorded_image(FakeEngine(), None, manifest, b'lock', 'FROM x\n', lambda m: None)


def test_numerics_differences_include_library_versions():
    from repro.audit.replay import numerics_differences
    a = {'host': {}, 'determinism': {'torch': '2.13.0', 'cudnn_version': 90100}}
    b = {'host': {}, 'determinism': {'torch': '2.13.0', 'cudnn_version': 90300}}
    assert numerics_differences(a, b) == ['cuDNN differs: 90100 -> 90300']
