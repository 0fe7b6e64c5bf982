"""The container engine: Docker through docker-py (the only importer of docker).

:class:`DockerEngine` implements :class:`repro.engines.interface.ContainerEngine`;
:func:`repro.engines.interface.connect_engine` is the one place that makes one. Core
code sees the interface only, so tests of the core pass a fake, and words
that belong to Docker (``docker load``, how to start dockerd) stay here.
"""
import contextlib
import os

from repro.errors import EngineError, EngineLostError

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
        """``docker load`` an archive file; returns the loaded image IDs."""
        with open(archive_path, 'rb') as f:
            return self._load_stream(f)

    def load_image(self, config, layer_paths, tag):
        """Load an image made of ``config`` (bytes) and layer tars; returns its ID.

        The archive is streamed to the engine as it is written (no temporary
        copy of a gigabyte of layers). The ID must be the config's digest
        (the point of building images this way); anything else is an
        EngineError.
        """
        import threading

        from repro.images import oci
        read_fd, write_fd = os.pipe()
        failed = []

        def write():
            try:
                with open(write_fd, 'wb') as out:
                    oci.docker_archive(config, layer_paths, tag, out)
            except BaseException as exc:  # noqa: BLE001 - reported below
                failed.append(exc)
        writer = threading.Thread(target=write, daemon=True)
        writer.start()
        load_error = None
        try:
            with open(read_fd, 'rb') as archive:  # closing it unblocks a stuck writer
                loaded = self._load_stream(iter(lambda: archive.read(1 << 20), b''))
        except EngineError as exc:
            load_error = exc
        writer.join()
        # A writer failure is the cause of the load's; a broken pipe is its effect.
        if failed and not isinstance(failed[0], BrokenPipeError):
            raise EngineError(f'cannot write the image archive: {failed[0]}')
        if load_error:
            raise load_error
        expected = oci.image_id(config)
        if expected not in loaded:
            raise EngineError(f'docker loaded {loaded}, expected {expected}')
        return expected

    def layer_chains(self, label):
        """Diff-id prefixes of every image labelled ``label``: the layer
        chains the engine holds (see :func:`repro.images.oci.docker_archive`)."""
        chains = set()
        for image in self._client.images.list(filters={'label': label}):
            layers = image.attrs.get('RootFS', {}).get('Layers') or []
            chains.update(tuple(layers[:i + 1]) for i in range(len(layers)))
        return chains

    def _load_stream(self, stream):
        import docker
        import requests
        try:
            return [image.id for image in self._client.images.load(stream)]
        except docker.errors.APIError as exc:
            raise EngineError(f'docker load failed: {exc.explanation or exc}') from None
        except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
            # e.g. ImageLoadError: docker reports load errors inside a 200 stream
            raise EngineError(f'docker load failed: {exc}') from None

    def find_image(self, label, value):
        """ID of an image labelled ``label=value``, or None (the reuse check)."""
        images = self._client.images.list(filters={'label': f'{label}={value}'})
        return images[0].id if images else None

    def save_image(self, ref, out):
        """``docker save`` ``ref`` into the open binary file ``out``."""
        for chunk in self._client.images.get(ref).save(named=False):
            out.write(chunk)

    def image_layers(self, ref):
        """The image's layer diff ids, base first."""
        return list(self._client.images.get(ref).attrs.get('RootFS', {}).get('Layers') or [])

    def labels(self, ref):
        return self._client.images.get(ref).labels or {}

    def repo_digests(self, ref):
        return self._client.images.get(ref).attrs.get('RepoDigests') or []

    def run(self, image, command, *, env=None, mounts=(), user=None, network=False,
            workdir=None, gpus=None, on_output=None, read_only_root=False, labels=None,
            on_start=None, hostname=None, cpuset=None):
        """Run a container to completion; returns (exit code, container).

        ``mounts`` are ``(host, container, 'ro'|'rw')``. Output is passed to
        ``on_output(bytes)`` as it arrives; ``on_start(container_id)`` is
        called once the container exists, before it starts, so a reaper
        covers a kill at any point. ``hostname`` fixes the container's host
        name (None: the engine's choice, the container id), as a launcher
        may record it. Ctrl-C stops the container and re-raises
        KeyboardInterrupt; the container is removed in every case, also
        when it never started (e.g. ``--gpus`` on a host without GPUs).
        """
        import docker
        import requests
        kwargs = dict(
            environment=dict(env or {}), user=user, working_dir=workdir, hostname=hostname,
            mounts=[bind_mount(host, cont, mode) for host, cont, mode in mounts],
            network_mode='bridge' if network else 'none', detach=True, labels=dict(labels or {}),
            cap_drop=['ALL'], security_opt=['no-new-privileges'],
            read_only=read_only_root, tmpfs={'/tmp': 'rw,exec,size=1g'} if read_only_root else None,
            cpuset_cpus=cpuset)
        if gpus:
            count = -1 if gpus == 'all' else None
            ids = None if gpus == 'all' else [g.strip() for g in str(gpus).split(',')]
            kwargs['device_requests'] = [docker.types.DeviceRequest(
                count=count, device_ids=ids, capabilities=[['gpu']])]
        # create, then start (not containers.run): a start that fails leaves a
        # created container behind, which only this code can remove. create
        # also never pulls an image from a registry, as run would.
        try:
            container = self._client.containers.create(image, command, **kwargs)
        except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
            raise EngineError(f'cannot create the container: {_reason(exc)}') from None
        import urllib3
        cut = (requests.exceptions.ConnectionError, requests.exceptions.ChunkedEncodingError,
               urllib3.exceptions.ProtocolError)
        try:
            if on_start:
                on_start(container.id)
            try:
                container.start()
            except docker.errors.APIError as exc:  # a cut connection is handled below
                raise EngineError(f'cannot start the container: {_reason(exc)}') from None
            for chunk in container.logs(stream=True, follow=True):
                if on_output:
                    on_output(chunk)
            status = container.wait()
            return status.get('StatusCode', 1), container
        except KeyboardInterrupt:
            with contextlib.suppress(docker.errors.APIError,
                                     requests.exceptions.RequestException):
                container.stop(timeout=10)  # the engine may be gone too
            raise
        except cut:
            # The socket went away or the connection was cut: dockerd stopped.
            raise EngineLostError('lost the Docker Engine while the container ran (was '
                                  'dockerd stopped?)', 'start it again (scripts/docker-up) '
                                  'and re-run') from None
        except (requests.exceptions.RequestException, docker.errors.APIError) as exc:
            raise EngineError('the Docker Engine failed while the container ran: '
                              f'{_reason(exc)}') from None
        finally:
            try:
                container.remove(force=True)
            except (docker.errors.APIError, requests.exceptions.RequestException):
                pass

    def containers(self, labels):
        """Ids of the containers (running or not) that carry all ``labels``."""
        import docker
        import requests
        try:
            found = self._client.containers.list(
                all=True, filters={'label': [f'{k}={v}' for k, v in labels.items()]})
        except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
            raise EngineError(f'cannot list containers: {_reason(exc)}') from None
        return [c.id for c in found]

    def stop_container(self, container_id):
        """Stop and remove a container if it still exists; True if it did."""
        import docker
        try:
            container = self._client.containers.get(container_id)
        except docker.errors.NotFound:
            return False
        container.stop(timeout=10)
        try:
            container.remove(force=True)
        except docker.errors.APIError:
            pass
        return True

    def remove_image(self, ref):
        import docker
        try:
            self._client.images.remove(ref, force=True)
        except docker.errors.ImageNotFound:
            pass


def bind_mount(host, container, mode):
    """An Engine API bind mount of ``host`` at ``container``.

    A mount object, not a ``-v host:container:mode`` string: the string
    form splits on ``:``, so a project path holding one could not be
    mounted (or, crafted, could name other options); a relative ``host``
    would be taken for a named volume. Missing host paths are refused by
    the engine instead of being created as root-owned directories.
    """
    import docker
    if mode not in ('ro', 'rw'):
        raise EngineError(f'invalid mount mode {mode!r} for {container}: use ro or rw')
    if not os.path.isabs(host):
        raise EngineError(f'mount source must be an absolute path: {host!r}')
    return docker.types.Mount(target=container, source=host, type='bind',
                              read_only=mode == 'ro')


def _reason(exc):
    """The engine's one-line explanation of ``exc``."""
    text = getattr(exc, 'explanation', None) or str(exc) or type(exc).__name__
    return ' '.join(str(text).split())
