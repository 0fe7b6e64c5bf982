"""The container engine: Docker through docker-py (the only importer of docker).

:class:`DockerEngine` implements :class:`repro.engines.interface.ContainerEngine`;
:func:`repro.engines.interface.connect_engine` is the one place that makes one. Core
code sees the interface only, so tests of the core pass a fake, and words
that belong to Docker (``docker load``, how to start dockerd) stay here.

It uses docker-py's low-level ``APIClient``: the high-level objects inspect
what they return (a container or an image costs a second call each time),
and a run needs only create, attach, start, wait and remove.
"""
import contextlib
import os
import re
import threading

from repro.errors import EngineError, EngineLostError

START_HINT = ('start the Docker Engine, e.g. `dockerd --iptables=false '
              '--ip6tables=false &` as root, or `sudo systemctl start docker`')
LOST = ('lost the Docker Engine while the container ran (was dockerd stopped?)',
        'start it again (scripts/docker-up) and re-run')
TIMEOUT = 120  # seconds for one API call; a load or a save streams for longer


def _errors():
    """(every failure of a call, the ones that mean the connection was cut)."""
    import docker
    import requests
    import urllib3
    cut = (requests.exceptions.ConnectionError, requests.exceptions.ChunkedEncodingError,
           urllib3.exceptions.ProtocolError, ConnectionError)
    return (docker.errors.DockerException, requests.exceptions.RequestException, *cut), cut


class DockerEngine:
    """A connected Docker Engine with the few operations repro needs."""

    def __init__(self, api, version=None):
        self._api = api
        self._layers = {}  # image ID -> its diff ids: an ID's layers never change
        self._version = version

    @classmethod
    def connect(cls, host=None):
        """Connect to the daemon the environment (``DOCKER_HOST``…) or ``host``
        names; EngineError if unreachable.

        One round trip, ``/_ping``, as the Docker CLI starts: it is the
        reachability check, and its headers give the API version to speak
        (``Api-Version``) and the engine's version for the manifest
        (``Server: Docker/VERSION (os)``). ``/version`` would say the same
        but makes dockerd ask containerd and runc first (5-10 ms); it is
        asked only of an engine whose answer lacks them.
        """
        import docker
        failure, _ = _errors()
        try:
            kwargs = {'base_url': host} if host else docker.utils.kwargs_from_env()
            probe = docker.APIClient(version=docker.constants.MINIMUM_DOCKER_API_VERSION,
                                     timeout=TIMEOUT, **kwargs)
            _local_socket(probe)
            with contextlib.closing(probe):
                answer = probe.get(probe.base_url + '/_ping', timeout=TIMEOUT)
                answer.raise_for_status()
                api_version, version = ping_versions(answer.headers)
                if api_version is None:
                    reply = probe.version(api_version=False)
                    api_version, version = reply['ApiVersion'], reply.get('Version')
            api = docker.APIClient(version=api_version, timeout=TIMEOUT, **kwargs)
        except (*failure, KeyError, TypeError) as exc:
            raise EngineError(f'cannot reach the Docker daemon: {_reason(exc, short=True)}',
                              START_HINT) from None
        _local_socket(api)
        return cls(api, version)

    def version(self):
        if self._version is None:
            self._version = self._call(self._api.version, 'cannot read the engine version'
                                       ).get('Version')
        return self._version

    def _call(self, method, what, *args, missing=False, **kwargs):
        """``method(*args, **kwargs)``; None if ``missing`` and the engine says
        404, an EngineError naming ``what`` for any other failure."""
        import docker
        failure, _ = _errors()
        try:
            return method(*args, **kwargs)
        except docker.errors.NotFound:
            if missing:
                return None
            raise EngineError(f'{what}: not found') from None
        except failure as exc:
            raise EngineError(f'{what}: {_reason(exc)}') from None

    def _inspect(self, ref):
        image = self._call(self._api.inspect_image, f'cannot inspect image {ref}', ref,
                           missing=True)
        if image and image.get('Id'):
            self._layers[image['Id']] = list((image.get('RootFS') or {}).get('Layers') or [])
        return image

    def image_id(self, ref):
        """The image ID of ``ref`` (name, tag or ID), or None if absent."""
        return (self._inspect(ref) or {}).get('Id')

    def image_layers(self, ref):
        """The image's layer diff ids, base first."""
        if ref not in self._layers:
            image = self._inspect(ref)
            if image is None:
                raise EngineError(f'no such image: {ref}')
            ref = image['Id']
        return list(self._layers[ref])

    def image_history(self, ref):
        """The image's history, newest first (``CreatedBy`` of each step)."""
        return self._call(self._api.history, f'cannot read the history of image {ref}',
                          ref) or []

    def labels(self, ref):
        return ((self._inspect(ref) or {}).get('Config') or {}).get('Labels') or {}

    def repo_digests(self, ref):
        return (self._inspect(ref) or {}).get('RepoDigests') or []

    def images(self, label):
        """Images that carry ``label`` (``key`` or ``key=value``): dicts with
        ``Id``, ``RepoTags``, ``Labels``, ``Size``, ``Created``."""
        return self._call(self._api.images, 'cannot list images',
                          filters={'label': label}) or []

    def find_image(self, label, value):
        """ID of an image labelled ``label=value``, or None (the reuse check)."""
        found = self.images(f'{label}={value}')
        return found[0]['Id'] if found else None

    def layer_chains(self, label):
        """Diff-id prefixes of every image labelled ``label``: the layer
        chains the engine holds (see :func:`repro.images.oci.docker_archive`)."""
        chains = set()
        for image in self.images(label):
            try:
                layers = self.image_layers(image['Id'])
            except EngineError:  # removed meanwhile
                continue
            chains.update(tuple(layers[:i + 1]) for i in range(len(layers)))
        return chains

    def load(self, archive_path):
        """``docker load`` an archive file; returns the loaded image IDs."""
        with open(archive_path, 'rb') as f:
            return self._load_stream(iter(lambda: f.read(1 << 20), b''))

    def load_image(self, write_archive):
        """Load the archive ``write_archive(out)`` writes (it returns the
        image's config); returns the image ID, which must be the config's
        digest (the point of building images this way), else EngineError.

        The archive is streamed to the engine as it is written: no
        temporary copy of a gigabyte of layers.
        """
        from repro.images import oci
        read_fd, write_fd = os.pipe()
        failed, configs = [], []

        def write():
            try:
                with open(write_fd, 'wb') as out:
                    configs.append(write_archive(out))
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
        expected = oci.image_id(configs[0])
        if expected not in loaded:
            raise EngineError(f'docker loaded {loaded}, expected {expected}')
        return expected

    def _load_stream(self, chunks):
        """POST the archive ``chunks``; the IDs of the images it held. docker
        reports a failed load inside a 200 answer, as an ``error`` message."""
        failure, _ = _errors()
        refs = []
        try:
            for message in self._api.load_image(chunks):
                if message.get('error') or message.get('errorDetail'):
                    detail = message.get('errorDetail') or {}
                    raise EngineError('docker load failed: '
                                      + (detail.get('message') or message['error']))
                match = re.match(r'Loaded image(?: ID)?: (.+)$',
                                 str(message.get('stream', '')).strip())
                if match:
                    refs.append(match.group(1))
        except failure as exc:
            raise EngineError(f'docker load failed: {_reason(exc)}') from None
        return [ref if ref.startswith('sha256:') else self.image_id(ref) for ref in refs]

    def save_image(self, ref, out):
        """``docker save`` ``ref`` into the open binary file ``out``."""
        failure, _ = _errors()
        try:
            for chunk in self._api.get_image(ref, chunk_size=1 << 20):
                out.write(chunk)
        except failure as exc:
            raise EngineError(f'cannot save image {ref}: {_reason(exc)}') from None

    def run(self, image, command, *, env=None, mounts=(), user=None, network=False,
            workdir=None, gpus=None, on_output=None, read_only_root=False, labels=None,
            on_start=None, hostname=None, cpuset=None):
        """Run a container to completion; returns (exit code, container id).

        ``mounts`` are ``(host, container, 'ro'|'rw')``. Output is passed to
        ``on_output(bytes)`` as it arrives; ``on_start(container_id)`` is
        called once the container exists, before it starts, so a reaper
        covers a kill at any point. ``hostname`` fixes the container's host
        name (None: the engine's choice, the container id), as a launcher
        may record it. Ctrl-C stops the container and re-raises
        KeyboardInterrupt; the container is removed in every case, also
        when it never started (e.g. ``--gpus`` on a host without GPUs).

        The calls: create, attach (before the start, so no output is lost),
        start, wait, remove. Create never pulls from a registry, as
        ``docker run`` would.
        """
        import docker
        failure, cut = _errors()
        spec = container_spec(image, command, env=env, mounts=mounts, user=user,
                              network=network, workdir=workdir, gpus=gpus,
                              read_only_root=read_only_root, labels=labels,
                              hostname=hostname, cpuset=cpuset)
        created = self._call(self._api.create_container, 'cannot create the container',
                             host_config=self._api.create_host_config(**spec.pop('host')),
                             **spec)
        container_id = created['Id']
        try:
            if on_start:
                on_start(container_id)
            try:
                sock = self._api.attach_socket(container_id, params={
                    'stdout': 1, 'stderr': 1, 'stream': 1})
            except failure as exc:
                raise EngineError(f'cannot attach to the container: {_reason(exc)}') from None
            with contextlib.closing(sock):
                try:
                    self._api.start(container_id)
                except cut:
                    raise EngineLostError(*LOST) from None
                except failure as exc:
                    raise EngineError(f'cannot start the container: {_reason(exc)}') from None
                with contextlib.suppress(OSError):  # a cut stream: the wait below tells
                    for _stream, chunk in docker.utils.socket.frames_iter(sock, tty=False):
                        if on_output:
                            on_output(chunk)
            try:
                answer = self._api.wait(container_id)
            except cut:
                raise EngineLostError(*LOST) from None
            except failure as exc:
                raise EngineError('the Docker Engine failed while the container ran: '
                                  f'{_reason(exc)}') from None
            error = (answer.get('Error') or {}).get('Message')
            if error:
                raise EngineError(f'the Docker Engine failed while the container ran: {error}')
            return answer.get('StatusCode', 1), container_id
        except KeyboardInterrupt:
            with contextlib.suppress(*failure):  # the engine may be gone too
                self._api.stop(container_id, timeout=10)
            raise
        finally:
            with contextlib.suppress(*failure):
                self._api.remove_container(container_id, force=True)

    def containers(self, labels):
        """Ids of the containers (running or not) that carry all ``labels``."""
        found = self._call(self._api.containers, 'cannot list containers', all=True,
                           filters={'label': [f'{k}={v}' for k, v in labels.items()]})
        return [c['Id'] for c in found or ()]

    def stop_container(self, container_id):
        """Stop and remove a container if it still exists; True if it did."""
        import docker
        failure, _ = _errors()
        try:
            self._api.stop(container_id, timeout=10)
        except docker.errors.NotFound:
            return False
        except failure as exc:
            raise EngineError(f'cannot stop container {container_id[:12]}: '
                              f'{_reason(exc)}') from None
        with contextlib.suppress(*failure):  # removed meanwhile
            self._api.remove_container(container_id, force=True)
        return True

    def remove_image(self, ref):
        self._call(self._api.remove_image, f'cannot remove image {ref}', ref, force=True,
                   missing=True)


def _local_socket(api):
    """No proxy and no netrc lookups for a local socket (they cost each call)."""
    if api.base_url.startswith('http+docker://'):
        api.trust_env = False


def ping_versions(headers):
    """(API version, engine version) from a ``/_ping`` answer's headers,
    either None if absent (pure). dockerd sends ``Server: Docker/20.10.24 (linux)``."""
    server = re.match(r'Docker/(\S+)', headers.get('Server') or '')
    return headers.get('Api-Version') or None, server.group(1) if server else None


def container_spec(image, command, *, env=None, mounts=(), user=None, network=False,
                   workdir=None, gpus=None, read_only_root=False, labels=None, hostname=None,
                   cpuset=None):
    """Arguments of ``APIClient.create_container`` (pure), with those of
    ``create_host_config`` under ``host``: no capabilities, no new
    privileges, the given mounts only, no networking unless ``network``."""
    host = dict(mounts=[bind_mount(h, c, mode) for h, c, mode in mounts],
                network_mode='bridge' if network else 'none', cap_drop=['ALL'],
                security_opt=['no-new-privileges'], read_only=bool(read_only_root))
    if read_only_root:
        host['tmpfs'] = {'/tmp': 'rw,exec,size=1g'}
    if cpuset:
        host['cpuset_cpus'] = cpuset
    if gpus:
        import docker
        ids = None if gpus == 'all' else [g.strip() for g in str(gpus).split(',')]
        host['device_requests'] = [docker.types.DeviceRequest(
            count=-1 if gpus == 'all' else None, device_ids=ids, capabilities=[['gpu']])]
    return dict(image=image, command=list(command), environment=dict(env or {}),
                labels=dict(labels or {}), user=user, working_dir=workdir, hostname=hostname,
                host=host)


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


def _reason(exc, short=False):
    """The engine's one-line explanation of ``exc`` (``short``: before any
    parenthesised detail, as docker-py wraps a socket error in three)."""
    text = getattr(exc, 'explanation', None) or str(exc) or type(exc).__name__
    if short:
        text = str(text).split('(')[0].strip() or type(exc).__name__
    return ' '.join(str(text).split())
