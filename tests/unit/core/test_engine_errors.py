"""The Docker engine over a fake Engine API (no Docker), on both transports:
the local socket the standard library speaks, and a TCP port docker-py
serves. The calls a run makes, and engine failures as one-line EngineErrors."""
import os
import pathlib
import subprocess
import sys

import pytest

from repro.engines.dockerengine import DockerEngine, ping_versions
from repro.errors import EngineError, EngineLostError
from tests.fakes import FakeDaemon

CONTAINER = 'c0ffee' * 10 + 'abcd'


@pytest.fixture(params=['unix', 'tcp'])
def daemon(tmp_path, request):
    made = []

    def make(**script):
        made.append(FakeDaemon(tmp_path / 'docker.sock', tcp=request.param == 'tcp', **script))
        return made[-1], DockerEngine.connect(made[-1].url)
    yield make
    for fake in made:
        fake.close()


def test_a_run_makes_only_the_calls_it_needs(daemon):
    """_ping (the reachability check; its headers give the API version and
    the manifest's engine version), create, attach before the start (no
    output lost), start, wait, remove: no inspections in between."""
    fake, engine = daemon(output=[b'hello\n', b'world\n'], exit_code=3)
    out = []
    code, container = engine.run('img', ['python', 'x.py'], env={'A': '1'}, user='1:2',
                                 mounts=[('/tmp', '/src', 'ro')], hostname='repro',
                                 labels={'k': 'v'}, on_output=out.append, on_start=out.append)
    assert (code, out) == (3, [CONTAINER, b'hello\n', b'world\n'])
    assert fake.calls == [
        ('GET', '/_ping'), ('POST', '/containers/create'),
        ('POST', f'/containers/{container}/attach'), ('POST', f'/containers/{container}/start'),
        ('POST', f'/containers/{container}/wait'), ('DELETE', f'/containers/{container}')]
    body = fake.bodies['/containers/create']
    host = body['HostConfig']
    assert host['CapDrop'] == ['ALL'] and host['NetworkMode'] == 'none'
    assert host['SecurityOpt'] == ['no-new-privileges']
    assert host['Mounts'] == [{'Target': '/src', 'Source': '/tmp', 'Type': 'bind',
                               'ReadOnly': True}]
    assert (body['Env'], body['User'], body['Hostname'], body['Labels']) == (
        ['A=1'], '1:2', 'repro', {'k': 'v'})
    assert engine.version() == 'fake-20.10'
    assert ('GET', '/version') not in fake.calls  # the ping's Server header said it


def test_an_engine_whose_ping_lacks_the_versions_is_asked_for_them(daemon):
    """An Engine API without dockerd's headers: /version once, at connect."""
    fake, engine = daemon(headers=False)
    assert fake.calls == [('GET', '/_ping'), ('GET', '/version')]
    assert engine.version() == 'fake-20.10'
    assert fake.calls.count(('GET', '/version')) == 1


def test_ping_versions_reads_dockerds_headers():
    assert ping_versions({'Api-Version': '1.43', 'Server': 'Docker/24.0.7 (linux)'}) == (
        '1.43', '24.0.7')
    assert ping_versions({'Api-Version': '1.41', 'Server': 'Libpod/4.3.1 (linux)'}) == (
        '1.41', None)
    assert ping_versions({}) == (None, None)


def test_an_unhealthy_engine_is_unreachable(tmp_path):
    fake = FakeDaemon(tmp_path / 'docker.sock')
    fake.gone.set()  # its /_ping answers 500
    try:
        with pytest.raises(EngineError, match='cannot reach the Docker daemon'):
            DockerEngine.connect(f'unix://{fake.path}')
    finally:
        fake.close()


def test_a_cut_connection_mid_run_is_a_lost_engine(daemon):
    """dockerd going away ends the output stream and drops the wait call."""
    fake, engine = daemon(output=[b'started\n'], cut=True)
    out = []
    with pytest.raises(EngineLostError, match='lost the Docker Engine'):
        engine.run('img', ['true'], on_output=out.append)
    assert out == [b'started\n']


def test_a_failed_start_removes_the_created_container(daemon):
    fake, engine = daemon(start_error='could not select device driver\n""')
    started = []
    with pytest.raises(EngineError) as exc:
        engine.run('img', ['true'], gpus='all', on_start=started.append)
    assert str(exc.value) == 'cannot start the container: could not select device driver ""'
    assert started == [CONTAINER]
    assert fake.calls[-1] == ('DELETE', f'/containers/{CONTAINER}')
    requests = fake.bodies['/containers/create']['HostConfig']['DeviceRequests']
    assert requests[0]['Count'] == -1 and requests[0]['Capabilities'] == [['gpu']]


def test_ctrl_c_stops_and_removes_the_container(daemon):
    fake, engine = daemon(output=[b'x\n'])

    def interrupt(chunk):
        raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        engine.run('img', ['true'], on_output=interrupt)
    assert fake.calls[-2:] == [('POST', f'/containers/{CONTAINER}/stop'),
                               ('DELETE', f'/containers/{CONTAINER}')]


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


def test_a_load_names_the_image_it_loaded(daemon, tmp_path):
    fake, engine = daemon(load_messages=[{'stream': 'Loaded image ID: sha256:' + 'a' * 64}])
    archive = tmp_path / 'a.tar'
    archive.write_bytes(b'x' * 10)
    assert engine.load(str(archive)) == ['sha256:' + 'a' * 64]


def test_an_unreachable_engine_is_one_line(tmp_path):
    with pytest.raises(EngineError, match='cannot reach the Docker daemon') as exc:
        DockerEngine.connect(f'unix://{tmp_path}/none.sock')
    assert '\n' not in str(exc.value)


def test_the_local_socket_needs_no_docker_py(tmp_path):
    """A run, an inspection and a load over the local socket import neither
    docker-py nor requests (0.1 s to import); only other engines need them."""
    archive = tmp_path / 'a.tar'
    archive.write_bytes(b'x' * 10)
    script = f"""
import sys
from tests.fakes import FakeDaemon
from repro.engines.dockerengine import DockerEngine
fake = FakeDaemon({str(tmp_path / 'd.sock')!r}, output=[b'x'],
                  load_messages=[{{'stream': 'Loaded image ID: sha256:' + 'a' * 64}}])
engine = DockerEngine.connect(fake.url)
assert engine.run('img', ['true'], mounts=[('/tmp', '/src', 'ro')], gpus='all')[0] == 0
assert engine.image_id('img') is None
assert engine.load({str(archive)!r}) == ['sha256:' + 'a' * 64]
print(sorted(m for m in sys.modules if m.split('.')[0] in ('docker', 'requests', 'urllib3')))
"""
    root = pathlib.Path(__file__).resolve().parents[3]
    out = subprocess.run([sys.executable, '-c', script], capture_output=True, text=True,
                         cwd=root, check=True).stdout
    assert out.strip() == '[]'


def test_a_tcp_engine_answers_through_docker_py(tmp_path):
    fake = FakeDaemon(tmp_path / 'd.sock', tcp=True)
    try:
        engine = DockerEngine.connect(fake.url)
        assert engine.image_id('absent:1') is None
        with pytest.raises(EngineError, match=r'^cannot list containers: not found$'):
            engine.containers({'k': 'v'})
        assert sys.modules.get('docker') is not None
    finally:
        fake.close()
    with pytest.raises(EngineError, match=f'^cannot reach the Docker daemon at {fake.url}: '
                       'Connection refused') as exc:  # the socket's reason, not requests'
        DockerEngine.connect(fake.url)
    assert '\n' not in str(exc.value)


def test_a_daemon_that_never_answers_its_ping_is_unreachable_soon(tmp_path, monkeypatch):
    import socket
    import time

    from repro.engines import dockerengine
    monkeypatch.setattr(dockerengine, 'PING_TIMEOUT', 0.5)
    for kind in ('unix', 'tcp'):
        family = socket.AF_UNIX if kind == 'unix' else socket.AF_INET
        with socket.socket(family) as silent:  # accepts (the kernel does), never answers
            silent.bind(str(tmp_path / 'silent.sock') if kind == 'unix' else ('127.0.0.1', 0))
            silent.listen(4)
            url = (f'unix://{tmp_path}/silent.sock' if kind == 'unix'
                   else 'tcp://127.0.0.1:%d' % silent.getsockname()[1])
            began = time.monotonic()
            with pytest.raises(EngineError, match='cannot reach the Docker daemon.*timed out'):
                DockerEngine.connect(url)
            assert time.monotonic() - began < 10  # not the 120 s of an ordinary call


def test_plain_reason_finds_the_sockets_own_words():
    from repro.engines.enginehttp import plain_reason
    assert plain_reason("HTTPConnectionPool(host='h', port=1): Max retries exceeded with url: "
                        "/v1.24/_ping (Caused by NewConnectionError('<urllib3.connection."
                        "HTTPConnection object at 0x7f>: Failed to establish a new connection: "
                        "[Errno 111] Connection refused'))") == 'Connection refused'
    assert plain_reason("HTTPConnectionPool(host='h', port=1): Read timed out. "
                        "(read timeout=0.5)") == 'timed out'
    assert plain_reason("HTTPSConnectionPool(host='h', port=2376): Max retries exceeded with "
                        "url: /_ping (Caused by SSLError(SSLCertVerificationError(1, '[SSL: "
                        "CERTIFICATE_VERIFY_FAILED] certificate verify failed: self-signed "
                        "certificate (_ssl.c:1006)')))") == ('certificate verify failed: '
                                                             'self-signed certificate')
    assert plain_reason('404 Client Error: Not Found') == '404 Client Error: Not Found'


def test_a_daemon_gone_with_its_socket_mid_run_is_a_lost_engine(tmp_path):
    """dockerd removes its socket as it stops: the wait then finds no daemon,
    a lost engine (the run is interrupted), not an engine error (failed)."""
    fake = FakeDaemon(tmp_path / 'docker.sock', output=[b'started\n'])
    try:
        engine = DockerEngine.connect(fake.url)
        with pytest.raises(EngineLostError, match='lost the Docker Engine'):
            engine.run('img', ['true'], on_output=lambda chunk: os.unlink(fake.path))
    finally:
        fake.close()


def test_bad_tls_settings_are_one_line(monkeypatch):
    monkeypatch.setenv('DOCKER_HOST', 'tcp://127.0.0.1:1')
    monkeypatch.setenv('DOCKER_TLS_VERIFY', '1')
    monkeypatch.setenv('DOCKER_CERT_PATH', '/nonexistent')
    with pytest.raises(EngineError, match='cannot reach the Docker daemon') as exc:
        DockerEngine.connect()
    assert '\n' not in str(exc.value)
