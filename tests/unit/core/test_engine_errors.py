"""Engine failures become one-line EngineErrors (a fake docker client, no Docker)."""
import pytest

from repro.engines.dockerengine import DockerEngine
from repro.errors import EngineError, EngineLostError


class FakeImages:
    def __init__(self, error):
        self.error = error

    def load(self, data):
        for _ in data:  # read the archive, as the engine does
            pass
        raise self.error


class FakeClient:
    def __init__(self, error):
        self.images = FakeImages(error)


def test_load_errors_reported_inside_the_stream_are_engine_errors(tmp_path):
    """docker reports a failed load inside a 200 stream: ImageLoadError."""
    import docker
    from repro.images import oci
    engine = DockerEngine(FakeClient(docker.errors.ImageLoadError('layer missing')))
    layer = tmp_path / 'l.tar'
    layer.write_bytes(b'x' * 4096)
    with pytest.raises(EngineError, match='docker load failed: layer missing'):
        engine.load_image(oci.image_config(['sha256:' + '1' * 64]), [str(layer)], 't:1')


class CutContainer:
    id = 'c0ffee'

    def start(self):
        pass

    def logs(self, **kwargs):
        import requests
        yield b'started\n'
        raise requests.exceptions.ConnectionError('Connection aborted.')

    def remove(self, force=False):
        import requests
        raise requests.exceptions.ConnectionError('no socket')


class Containers:
    def create(self, image, command, **kwargs):
        return CutContainer()


def test_a_cut_connection_mid_run_is_a_lost_engine():
    client = type('C', (), {'containers': Containers()})()
    out = []
    with pytest.raises(EngineLostError, match='lost the Docker Engine'):
        DockerEngine(client).run('img', ['true'], on_output=out.append)
    assert out == [b'started\n']
