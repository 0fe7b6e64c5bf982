"""The container engine: Docker through docker-py (the only importer of docker).

Core code talks to :class:`DockerEngine` only; tests of the core can pass a
fake with the same methods.
"""
from repro.errors import EngineError

START_HINT = ('start the Docker Engine, e.g. `dockerd --iptables=false '
              '--ip6tables=false &` as root, or `sudo systemctl start docker`')


class DockerEngine:
    """A connected Docker client with the few operations repro needs."""

    def __init__(self, client):
        self._client = client

    @classmethod
    def connect(cls):
        """Connect to the daemon from the environment; EngineError if unreachable."""
        import docker
        try:
            client = docker.from_env(timeout=120)
            client.ping()
        except docker.errors.DockerException as exc:
            reason = str(exc).split('(')[0].strip() or type(exc).__name__
            raise EngineError(f'cannot reach the Docker daemon: {reason}', START_HINT) from None
        return cls(client)

    def version(self):
        return self._client.version().get('Version')

    def image_id(self, ref):
        """The image ID of ``ref`` (name, tag or ID), or None if absent."""
        import docker
        try:
            return self._client.images.get(ref).id
        except docker.errors.ImageNotFound:
            return None

    def load(self, archive_path):
        """``docker load`` an archive; returns the loaded image IDs."""
        import docker
        try:
            with open(archive_path, 'rb') as f:
                return [image.id for image in self._client.images.load(f)]
        except docker.errors.APIError as exc:
            raise EngineError(f'docker load failed: {exc.explanation or exc}') from None

    def remove_image(self, ref):
        import docker
        try:
            self._client.images.remove(ref, force=True)
        except docker.errors.ImageNotFound:
            pass
