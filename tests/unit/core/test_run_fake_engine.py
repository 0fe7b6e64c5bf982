"""``repro run`` end to end against a fake engine: the manifest it records."""
import io
import os

import pytest

from repro import contract
from repro.errors import EngineError, EngineLostError, LockError
from repro.store.manifest_loader import load
from repro.execute.run import run
from repro.store.runs import RunStore
from repro.audit.verify import verify_run
from tests.fakes import IMAGE_ID, LAYERS, FakeEngine, project, remember_image, write_outputs


@pytest.fixture
def setup(tmp_path, monkeypatch):
    """(project root, engine factory, reaper calls): a project whose image exists."""
    from repro.engines import reaper
    monkeypatch.setenv('REPRO_CACHE', str(tmp_path / 'cache'))
    monkeypatch.delenv('REPRO_HOME', raising=False)
    spawned = []
    monkeypatch.setattr(reaper, 'spawn', lambda *args: spawned.append(args))
    root = project(tmp_path / 'proj')
    remember_image(FakeEngine(), root)
    return root, spawned


def run_with(root, behave, **kwargs):
    engine, out = FakeEngine(behave), io.BytesIO()
    result = run(str(root / 'train.py'), connect=lambda: engine, progress=lambda m: None,
                 output=out, **kwargs)
    store = RunStore.for_project(str(root))
    return engine, store, result, load(store, result.run_id), out.getvalue()


def test_a_run_records_its_mounts_environment_and_image(setup):
    root, spawned = setup
    engine, store, result, manifest, out = run_with(
        root, write_outputs({'metrics.csv': 'seed,{seed}\n'}), seed=7,
        args=['--seed', '{seed}'])
    (call,) = engine.calls
    run_dir = store.run_dir(result.run_id)
    assert (result.status, result.exit_code) == ('succeeded', 0)
    assert call.image == IMAGE_ID and call.hostname == contract.HOSTNAME == manifest['hostname']
    assert call.command == ['python', '-m', 'repro.runtime', f'{contract.SRC}/train.py',
                            '--seed', '7']
    assert call.mounts == [(manifest_src(store, manifest), contract.SRC, 'ro'),
                           (os.path.join(run_dir, 'outputs'), contract.OUTPUTS, 'rw')]
    assert call.env[contract.ENV_SEED] == '7' and call.network is False
    assert call.user == f'{os.getuid()}:{os.getgid()}'
    assert call.labels == {'org.repro.run-id': result.run_id}
    assert spawned == [(os.getpid(), 'container-1', store.root, result.run_id)]
    assert manifest['args'] == ['--seed', '7'] and manifest['args_written'] == ['--seed',
                                                                                '{seed}']
    assert manifest['command'] == ['repro', 'run', 'train.py', '--seed', '7', '--',
                                   '--seed', '{seed}']
    assert manifest['image']['id'] == IMAGE_ID and manifest['image']['layers'] == LAYERS
    assert manifest['env']['REPRO_SEED'] == '7' and manifest['replay_of'] is None
    assert out == b'hello from the container\n'
    with open(os.path.join(run_dir, 'outputs', 'metrics.csv')) as f:
        assert f.read() == 'seed,7\n'
    assert verify_run(store, result.run_id)[0] == []


def manifest_src(store, manifest):
    from repro.store.sourcetree import export_files
    tree = manifest['git']['tree']
    return export_files(store, tree, store.get_tree(tree))


def raises(exc):
    def behave(call):
        raise exc
    return behave


@pytest.mark.parametrize('behave, status, code, error', [
    (lambda call: 3, 'failed', 3, None),
    (raises(EngineError('cannot start the container: no GPU')), 'failed', 125,
     'cannot start the container: no GPU'),
    (raises(EngineLostError('lost the engine')), 'interrupted', 125, 'lost the engine'),
    (raises(KeyboardInterrupt()), 'interrupted', 130, None),
])
def test_how_a_run_ends_is_recorded(setup, behave, status, code, error):
    root, _ = setup
    _, store, result, manifest, _ = run_with(root, behave)
    assert (result.status, result.exit_code) == (status, code)
    assert (manifest['status'], manifest['exit_code']) == (status, code)
    assert manifest.get('error') == error and manifest['end_time']
    assert verify_run(store, result.run_id)[0] == []


def test_the_engine_is_asked_for_only_after_the_lock_is_checked(setup):
    root, _ = setup
    (root / 'requirements.lock').unlink()
    asked = []
    with pytest.raises(LockError, match='missing'):
        run(str(root / 'train.py'), connect=lambda: asked.append(1), progress=lambda m: None)
    assert asked == []


def test_cli_run_uses_the_one_engine_connection(setup, monkeypatch, capsys):
    from repro.cli import main
    root, _ = setup
    engine = FakeEngine()
    monkeypatch.setattr('repro.engines.interface.connect_engine', lambda: engine)
    monkeypatch.chdir(root)
    assert main(['run', 'train.py', '--seed', '2']) == 0
    assert capsys.readouterr().out.strip().endswith('succeeded')
    assert [c.env[contract.ENV_SEED] for c in engine.calls] == ['2']
