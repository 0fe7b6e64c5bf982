"""The Docker engine over a fake Engine API (no Docker): the calls a run makes,
and engine failures as one-line EngineErrors."""
import time

import pytest

from repro.engines.dockerengine import DockerEngine
from repro.errors import EngineError, EngineLostError
from tests.fakes import FakeDaemon


@pytest.fixture
def daemon(tmp_path):
    made = []

    def make(**script):
        made.append(FakeDaemon(tmp_path / 'docker.sock', **script))
        return made[-1], DockerEngine.connect(f'unix://{made[-1].path}')
    yield make
    for fake in made:
        fake.close()


def test_a_run_makes_the_calls_docker_run_rm_makes(daemon):
    """version (the reachability check), create (auto-removed), attach, wait,
    start: nothing after the run, nothing the CLI does not do."""
    fake, engine = daemon(output=[b'hello\n', b'world\n'], exit_code=3)
    out = []
    code, container = engine.run('img', ['python', 'x.py'], env={'A': '1'}, user='1:2',
                                 mounts=[('/tmp', '/src', 'ro')], hostname='repro',
                                 labels={'k': 'v'}, on_output=out.append, on_start=out.append)
    assert (code, out) == (3, [container, b'hello\n', b'world\n'])
    assert engine.version() == 'fake-20.10'
    assert [c for c in fake.calls if c[1] != '/_ping'] == [
        ('GET', '/version'), ('POST', '/containers/create'),
        ('POST', f'/containers/{container}/attach'), ('POST', f'/containers/{container}/wait'),
        ('POST', f'/containers/{container}/start')]
    body = fake.bodies['/containers/create']
    assert body['HostConfig']['AutoRemove'] is True and body['HostConfig']['CapDrop'] == ['ALL']
    assert body['HostConfig']['NetworkMode'] == 'none'
    assert body['HostConfig']['SecurityOpt'] == ['no-new-privileges']
    assert body['HostConfig']['Mounts'] == [
        {'Target': '/src', 'Source': '/tmp', 'Type': 'bind', 'ReadOnly': True}]
    assert (body['Env'], body['User'], body['Hostname'], body['Labels']) == (
        ['A=1'], '1:2', 'repro', {'k': 'v'})


def test_a_cut_connection_mid_run_is_a_lost_engine_at_once(daemon):
    """dockerd going away drops the wait call; the hijacked output stream
    would live on, so the run must not wait for it."""
    fake, engine = daemon(output=[b'started\n'], cut=True)
    out = []
    start = time.monotonic()
    with pytest.raises(EngineLostError, match='lost the Docker Engine'):
        engine.run('img', ['true'], on_output=out.append)
    assert out == [b'started\n'] and time.monotonic() - start < 5


def test_a_killed_container_of_a_gone_engine_is_a_lost_engine(daemon):
    """A non-zero exit while the engine stops answering: dockerd shut down
    and killed the container; the run did not fail on its own."""
    fake, engine = daemon(exit_code=137)
    fake.gone.set()
    with pytest.raises(EngineLostError):
        engine.run('img', ['true'])


def test_ctrl_c_stops_the_container(daemon):
    fake, engine = daemon(output=[b'x\n'])

    def interrupt(chunk):
        raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        engine.run('img', ['true'], on_output=interrupt)
    assert ('POST', f'/containers/{"c0ffee" * 10}abcd/stop') in fake.calls


def test_load_errors_reported_inside_the_stream_are_engine_errors(daemon, tmp_path):
    """docker reports a failed load inside a 200 answer."""
    from repro.images import oci
    fake, engine = daemon(load_messages=[{'errorDetail': {'message': 'layer missing'},
                                          'error': 'layer missing'}])
    layer = tmp_path / 'l.tar'
    layer.write_bytes(b'x' * 4096)
    with pytest.raises(EngineError, match='docker load failed: layer missing'):
        engine.load_image(lambda out: oci.docker_archive(
            oci.image_config(['sha256:' + '1' * 64]), [str(layer)], 't:1', out))


def test_an_unreachable_engine_is_one_line(tmp_path):
    with pytest.raises(EngineError, match='cannot reach the Docker daemon: No such file'):
        DockerEngine.connect(f'unix://{tmp_path}/none.sock')
    with pytest.raises(EngineError, match='DOCKER_HOST=ssh://h is not supported'):
        DockerEngine.connect('ssh://h')


def test_the_reaper_starts_without_site_and_records_a_killed_run(tmp_path, monkeypatch):
    """The reaper runs with ``-S`` (cheap to start beside a container): repro
    and the standard library must be all it needs to stop the container and
    mark the run interrupted."""
    import subprocess
    import sys

    from repro.engines import reaper
    from repro.store.runs import RunStore
    store = RunStore(str(tmp_path / 'store')).ensure()
    run_id = store.create_run('train.py', 0)
    store.write_manifest(run_id, {'format': 1, 'run_id': run_id, 'status': 'running'})
    dead = subprocess.Popen([sys.executable, '-c', 'pass'])
    dead.wait()
    fake = FakeDaemon(tmp_path / 'docker.sock')
    try:
        argv, env = reaper.command(dead.pid, 'c0ffee', store.root, run_id)
        assert argv[1] == '-S'
        result = subprocess.run(argv, env=dict(env, DOCKER_HOST=f'unix://{fake.path}'),
                                capture_output=True, text=True, timeout=60)
    finally:
        fake.close()
    assert result.returncode == 0, result.stderr
    assert ('POST', '/containers/c0ffee/stop') in fake.calls
    manifest = store.read_manifest(run_id)
    assert manifest['status'] == 'interrupted' and 'reaper' in manifest['error']
