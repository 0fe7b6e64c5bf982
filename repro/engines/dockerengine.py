"""The container engine: Docker, through its Engine API.

:class:`DockerEngine` implements :class:`repro.engines.interface.ContainerEngine`;
:func:`repro.engines.interface.connect_engine` is the one place that makes one. Core
code sees the interface only, so tests of the core pass a fake, and words
that belong to Docker (``docker load``, how to start dockerd) stay here.

Every operation is a few Engine API calls written here once; the HTTP is
carried by :mod:`repro.engines.enginehttp`: the standard library on the
local socket, docker-py (the only importer of docker) for other engines.
A run is create, attach, start, wait and remove, with no inspection between.
"""
import contextlib
import json
import os
import re
import threading

from repro.engines import enginehttp
from repro.engines.enginehttp import api_path
from repro.errors import EngineError, EngineLostError

START_HINT = ('start the Docker Engine, e.g. `dockerd --iptables=false '
              '--ip6tables=false &` as root, or `sudo systemctl start docker`')
LOST = ('lost the Docker Engine while the container ran (was dockerd stopped?)',
        'start it again (scripts/docker-up) and re-run')
TIMEOUT = 120  # seconds for one API call; a load or a save streams for longer
PING_TIMEOUT = 20  # a daemon that accepts but never answers is hung, not busy


class DockerEngine:
    """A connected Docker Engine with the few operations repro needs."""

    def __init__(self, http, version=None):
        self._http = http  # enginehttp.LocalHTTP or DockerPyHTTP
        self._layers = {}  # image ID -> its diff ids: an ID's layers never change
        self._version = version

    @classmethod
    def connect(cls, host=None):
        """Connect to the daemon ``host`` or the environment (``DOCKER_HOST``…)
        names; EngineError if unreachable.

        One round trip, ``/_ping``, as the Docker CLI starts: it is the
        reachability check, and its headers give the API version to speak
        (``Api-Version``) and the engine's version for the manifest
        (``Server: Docker/VERSION (os)``). ``/version`` would say the same
        but makes dockerd ask containerd and runc first (5-10 ms); it is
        asked only of an engine whose answer lacks them.
        """
        address = host or os.environ.get('DOCKER_HOST')
        path = enginehttp.unix_socket_path(address)
        try:
            http = (enginehttp.LocalHTTP(path, TIMEOUT) if path
                    else enginehttp.DockerPyHTTP.connect(host, TIMEOUT))
            answer = http.request('GET', '/_ping', versioned=False, timeout=PING_TIMEOUT)
            if answer.status != 200:
                raise OSError(answer.message())
            api_version, version = ping_versions(answer.headers)
            if api_version is None:
                reply = http.request('GET', '/version', versioned=False).json()
                api_version, version = reply['ApiVersion'], reply.get('Version')
            if path:
                http.version = api_version
            else:  # a client speaking that version (the probe spoke the oldest)
                http.api.close()
                http = enginehttp.DockerPyHTTP.connect(host, TIMEOUT, api_version)
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            where = f' at {path or address}' if path or address else ''
            raise EngineError(f'cannot reach the Docker daemon{where}: {_reason(exc)}',
                              START_HINT) from None
        return cls(http, version)

    def version(self):
        if self._version is None:
            self._version = (self._call('cannot read the engine version', 'GET',
                                        '/version') or {}).get('Version')
        return self._version

    def _call(self, what, method, path, params=None, body=None, *, missing=False,
              timeout=..., lost=False):
        """The decoded JSON of the engine's answer to one call ({} for an
        empty one); None if ``missing`` and it says 404, an EngineError naming
        ``what`` for any other failure (EngineLostError if ``lost`` and the
        connection was cut). ``timeout``: seconds, None for no limit, ``...``
        for :data:`TIMEOUT`."""
        try:
            answer = self._http.request(method, path, params, body, timeout=timeout)
        except ConnectionError as exc:
            if lost:
                raise EngineLostError(*LOST) from None
            raise EngineError(f'{what}: {_reason(exc)}') from None
        except OSError as exc:
            raise EngineError(f'{what}: {_reason(exc)}') from None
        if answer.status == 404:
            if missing:
                return None
            raise EngineError(f'{what}: not found')
        if answer.status >= 400:
            raise EngineError(f'{what}: {answer.message()}')
        try:
            return answer.json() if answer.body.strip() else {}
        except ValueError:
            raise EngineError(f'{what}: the engine\'s answer is not JSON: '
                              f'{answer.body[:80]!r}') from None

    def _inspect(self, ref):
        image = self._call(f'cannot inspect image {ref}', 'GET',
                           api_path('/images/{}/json', ref), missing=True)
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
        return self._call(f'cannot read the history of image {ref}', 'GET',
                          api_path('/images/{}/history', ref)) or []

    def labels(self, ref):
        return ((self._inspect(ref) or {}).get('Config') or {}).get('Labels') or {}

    def repo_digests(self, ref):
        return (self._inspect(ref) or {}).get('RepoDigests') or []

    def images(self, label):
        """Images that carry ``label`` (``key`` or ``key=value``): dicts with
        ``Id``, ``RepoTags``, ``Labels``, ``Size``, ``Created``."""
        return self._call('cannot list images', 'GET', '/images/json',
                          {'filters': json.dumps({'label': [label]})}) or []

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
        refs = []
        try:
            pieces = self._http.stream('POST', '/images/load', chunks=chunks)
            with contextlib.closing(pieces):  # the connection goes with any error
                for message in _json_lines(pieces):
                    if message.get('error') or message.get('errorDetail'):
                        detail = message.get('errorDetail') or {}
                        raise EngineError('docker load failed: '
                                          + (detail.get('message') or message['error']))
                    match = re.match(r'Loaded image(?: ID)?: (.+)$',
                                     str(message.get('stream', '')).strip())
                    if match:
                        refs.append(match.group(1))
        except (OSError, ValueError) as exc:
            raise EngineError(f'docker load failed: {_reason(exc)}') from None
        return [ref if ref.startswith('sha256:') else self.image_id(ref) for ref in refs]

    def save_image(self, ref, out):
        """``docker save`` ``ref`` into the open binary file ``out``."""
        try:
            pieces = self._http.stream('GET', api_path('/images/{}/get', ref))
            with contextlib.closing(pieces):  # the connection goes with any error
                for chunk in pieces:
                    out.write(chunk)
        except OSError as exc:
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
        spec = container_spec(image, command, env=env, mounts=mounts, user=user,
                              network=network, workdir=workdir, gpus=gpus,
                              read_only_root=read_only_root, labels=labels,
                              hostname=hostname, cpuset=cpuset)
        container_id = self._call('cannot create the container', 'POST', '/containers/create',
                                  body=spec)['Id']
        path = api_path('/containers/{}', container_id)
        try:
            if on_start:
                on_start(container_id)
            try:
                stream, read = self._http.attach(path + '/attach',
                                                 {'stdout': 1, 'stderr': 1, 'stream': 1})
            except OSError as exc:
                raise EngineError(f'cannot attach to the container: {_reason(exc)}') from None
            with contextlib.closing(stream):
                self._call('cannot start the container', 'POST', path + '/start', lost=True)
                with contextlib.suppress(OSError):  # a cut stream: the wait below tells
                    for _stream, chunk in enginehttp.frames(read):
                        if on_output:
                            on_output(chunk)
            answer = self._call('the Docker Engine failed while the container ran', 'POST',
                                path + '/wait', timeout=None, lost=True) or {}
            error = (answer.get('Error') or {}).get('Message')
            if error:
                raise EngineError(f'the Docker Engine failed while the container ran: {error}')
            return answer.get('StatusCode', 1), container_id
        except KeyboardInterrupt:
            with contextlib.suppress(EngineError):  # the engine may be gone too
                self._stop(path)
            raise
        finally:
            with contextlib.suppress(EngineError):
                self._remove(path)

    def _stop(self, path, what='cannot stop the container'):
        """Stop the container at ``path`` (10 s for it to exit); False if it is gone."""
        return self._call(what, 'POST', path + '/stop', {'t': 10}, missing=True,
                          timeout=TIMEOUT + 10) is not None

    def _remove(self, path):
        self._call('cannot remove the container', 'DELETE', path, {'force': 1}, missing=True)

    def containers(self, labels):
        """Ids of the containers (running or not) that carry all ``labels``."""
        found = self._call('cannot list containers', 'GET', '/containers/json', {
            'all': 1, 'filters': json.dumps({'label': [f'{k}={v}' for k, v in labels.items()]})})
        return [c['Id'] for c in found or ()]

    def stop_container(self, container_id):
        """Stop and remove a container if it still exists; True if it did."""
        path = api_path('/containers/{}', container_id)
        if not self._stop(path, f'cannot stop container {container_id[:12]}'):
            return False
        with contextlib.suppress(EngineError):  # removed meanwhile
            self._remove(path)
        return True

    def remove_image(self, ref):
        self._call(f'cannot remove image {ref}', 'DELETE', api_path('/images/{}', ref),
                   {'force': 1}, missing=True)


def _json_lines(pieces):
    """The JSON messages of a streamed answer, one per line (pure)."""
    buffered = b''
    for piece in pieces:
        buffered += piece
        *lines, buffered = buffered.split(b'\n')
        yield from (json.loads(line) for line in lines if line.strip())
    if buffered.strip():
        yield json.loads(buffered)


def ping_versions(headers):
    """(API version, engine version) from a ``/_ping`` answer's headers (any
    case), either None if absent (pure). dockerd sends ``Server: Docker/20.10.24 (linux)``."""
    headers = {name.lower(): value for name, value in headers.items()}
    server = re.match(r'Docker/(\S+)', headers.get('server') or '')
    return headers.get('api-version') or None, server.group(1) if server else None


def container_spec(image, command, *, env=None, mounts=(), user=None, network=False,
                   workdir=None, gpus=None, read_only_root=False, labels=None, hostname=None,
                   cpuset=None):
    """The body of ``POST /containers/create`` (pure), as docker-py wrote
    it: no capabilities, no new privileges, the given mounts only, no
    networking unless ``network``; output attached, no TTY, no stdin."""
    host = {'Mounts': [bind_mount(h, c, mode) for h, c, mode in mounts],
            'NetworkMode': 'bridge' if network else 'none', 'CapDrop': ['ALL'],
            'SecurityOpt': ['no-new-privileges'], 'ReadonlyRootfs': bool(read_only_root)}
    if read_only_root:
        host['Tmpfs'] = {'/tmp': 'rw,exec,size=1g'}
    if cpuset:
        host['CpusetCpus'] = cpuset
    if gpus:
        every = gpus == 'all'
        host['DeviceRequests'] = [{
            'Driver': '', 'Count': -1 if every else 0,
            'DeviceIDs': [] if every else [g.strip() for g in str(gpus).split(',')],
            'Capabilities': [['gpu']], 'Options': {}}]
    spec = {'Image': image, 'Cmd': list(command), 'Labels': dict(labels or {}),
            'AttachStdin': False, 'AttachStdout': True, 'AttachStderr': True, 'Tty': False,
            'OpenStdin': False, 'StdinOnce': False, 'NetworkDisabled': False, 'HostConfig': host}
    if env is not None:
        spec['Env'] = [f'{k}={v}' for k, v in env.items()]
    optional = {'User': user, 'WorkingDir': workdir, 'Hostname': hostname}
    spec.update({k: v for k, v in optional.items() if v})
    return spec


def bind_mount(host, container, mode):
    """An Engine API bind mount of ``host`` at ``container`` (pure).

    A mount object, not a ``-v host:container:mode`` string: the string
    form splits on ``:``, so a project path holding one could not be
    mounted (or, crafted, could name other options); a relative ``host``
    would be taken for a named volume. Missing host paths are refused by
    the engine instead of being created as root-owned directories.
    """
    if mode not in ('ro', 'rw'):
        raise EngineError(f'invalid mount mode {mode!r} for {container}: use ro or rw')
    if not os.path.isabs(host):
        raise EngineError(f'mount source must be an absolute path: {host!r}')
    return {'Target': container, 'Source': host, 'Type': 'bind', 'ReadOnly': mode == 'ro'}


def _reason(exc):
    """The engine's one-line explanation of ``exc`` (docker-py's wrapped
    texts are already plain: enginehttp.plain_reason)."""
    text = getattr(exc, 'strerror', None) or str(exc) or type(exc).__name__
    return ' '.join(str(text).split())
