"""The container engine: Docker through its Engine API (the only module that speaks it).

:class:`DockerEngine` implements :class:`repro.engines.interface.ContainerEngine`;
:func:`repro.engines.interface.connect_engine` is the one place that makes one. Core
code sees the interface only, so tests of the core pass a fake, and words
that belong to Docker (``docker load``, how to start dockerd) stay here.
The calls go over the daemon's socket (:mod:`repro.engines.dockerapi`), and
a run makes the ones the Docker CLI makes for ``docker run --rm``.
"""
import contextlib
import os
import threading

from repro.engines import dockerapi
from repro.engines.dockerapi import CUT, APIError, quote
from repro.errors import EngineError, EngineLostError

START_HINT = ('start the Docker Engine, e.g. `dockerd --iptables=false '
              '--ip6tables=false &` as root, or `sudo systemctl start docker`')
LOST = ('lost the Docker Engine while the container ran (was dockerd stopped?)',
        'start it again (scripts/docker-up) and re-run')


class DockerEngine:
    """A connected Docker Engine with the few operations repro needs."""

    def __init__(self, client, version=None):
        self._client = client
        self._version = version
        self._layers = {}  # image ID -> its diff ids: an ID's layers never change

    @classmethod
    def connect(cls, host=None):
        """Connect to the daemon ``DOCKER_HOST`` names; EngineError if unreachable.

        The version call is the reachability check (docker-py pinged, then
        asked for the version again): one round trip, and the manifest's
        ``docker_version`` comes with it.
        """
        client = dockerapi.Client(dockerapi.connector(host))
        try:
            version = client.call('GET', '/version')
        except (*CUT, APIError, ValueError) as exc:
            reason = getattr(exc, 'strerror', None) or str(exc) or type(exc).__name__
            raise EngineError(f'cannot reach the Docker daemon: {reason}', START_HINT) from None
        return cls(client, (version or {}).get('Version'))

    def version(self):
        return self._version

    def _call(self, method, path, what, params=None, body=None, missing=()):
        """One call; None if its status is in ``missing``, an EngineError
        naming ``what`` for any other failure."""
        try:
            return self._client.call(method, path, params, body)
        except APIError as exc:
            if exc.status in missing:
                return None
            raise EngineError(f'{what}: {exc.explanation}') from None
        except CUT as exc:
            raise EngineError(f'{what}: {_reason(exc)}') from None

    def _inspect(self, ref):
        image = self._call('GET', f'/images/{quote(ref)}/json', f'cannot inspect image {ref}',
                           missing=(404,))
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
        return self._call('GET', f'/images/{quote(ref)}/history',
                          f'cannot read the history of image {ref}') or []

    def labels(self, ref):
        return ((self._inspect(ref) or {}).get('Config') or {}).get('Labels') or {}

    def repo_digests(self, ref):
        return (self._inspect(ref) or {}).get('RepoDigests') or []

    def images(self, label):
        """Images that carry ``label`` (``key`` or ``key=value``): dicts with
        ``Id``, ``RepoTags``, ``Labels``, ``Size``, ``Created``."""
        return self._call('GET', '/images/json', 'cannot list images',
                          {'filters': _filters(label=[label])}) or []

    def find_image(self, label, value):
        """ID of an image labelled ``label=value``, or None."""
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
        import re
        refs = []
        try:
            response = self._client.stream('POST', '/images/load', {'quiet': '1'}, body=chunks)
            with contextlib.closing(response):
                for message in dockerapi.json_lines(response):
                    if message.get('error') or message.get('errorDetail'):
                        detail = message.get('errorDetail') or {}
                        raise EngineError('docker load failed: '
                                          + (detail.get('message') or message['error']))
                    match = re.match(r'Loaded image(?: ID)?: (.+)$',
                                     str(message.get('stream', '')).strip())
                    if match:
                        refs.append(match.group(1))
        except APIError as exc:
            raise EngineError(f'docker load failed: {exc.explanation}') from None
        except (*CUT, ValueError) as exc:
            raise EngineError(f'docker load failed: {_reason(exc)}') from None
        return [ref if ref.startswith('sha256:') else self.image_id(ref) for ref in refs]

    def save_image(self, ref, out):
        """``docker save`` ``ref`` into the open binary file ``out``."""
        try:
            response = self._client.stream('GET', f'/images/{quote(ref)}/get')
            with contextlib.closing(response):
                while chunk := response.read(1 << 20):
                    out.write(chunk)
        except APIError as exc:
            raise EngineError(f'cannot save image {ref}: {exc.explanation}') from None
        except CUT as exc:
            if isinstance(exc, OSError) and exc.filename:  # ``out`` failed, not the engine
                raise
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

        The calls are the Docker CLI's for ``docker run --rm``: create (the
        engine removes the container when it ends), attach to its output,
        wait for its removal, start; then the output streams in and the
        wait answers with the exit code. Create never pulls from a registry.
        """
        body = container_spec(image, command, env=env, mounts=mounts, user=user,
                              network=network, workdir=workdir, gpus=gpus,
                              read_only_root=read_only_root, labels=labels,
                              hostname=hostname, cpuset=cpuset)
        created = self._call('POST', '/containers/create', 'cannot create the container',
                             body=body)
        container_id = created['Id']
        removed = False
        try:
            if on_start:
                on_start(container_id)
            exit_code = self._attached(container_id, on_output)
            removed = True
            return exit_code, container_id
        except KeyboardInterrupt:
            with contextlib.suppress(*CUT, APIError):  # the engine may be gone too
                self._client.call('POST', f'/containers/{container_id}/stop', {'t': 10})
            raise
        finally:
            if not removed:
                with contextlib.suppress(*CUT, APIError):
                    self._client.call('DELETE', f'/containers/{container_id}', {'force': 1})

    def _attached(self, container_id, on_output):
        """Attach, wait, start, stream; the exit code once the engine removed it."""
        path = f'/containers/{container_id}'
        try:
            attached = self._client.attach(f'{path}/attach',
                                           {'stream': 1, 'stdout': 1, 'stderr': 1})
        except (*CUT, APIError) as exc:
            raise EngineError(f'cannot attach to the container: {_reason(exc)}') from None
        with contextlib.closing(attached):
            try:
                waiter = _Waiter(self._client, f'{path}/wait', attached.sock)
            except (*CUT, APIError) as exc:
                raise EngineError(f'cannot wait for the container: {_reason(exc)}') from None
            try:
                self._client.call('POST', f'{path}/start')
            except APIError as exc:
                waiter.close()
                raise EngineError(f'cannot start the container: {exc.explanation}') from None
            except CUT:
                waiter.close()
                raise EngineLostError(*LOST) from None
            try:
                for chunk in dockerapi.frames(attached.fp):
                    if on_output:
                        on_output(chunk)
            except CUT:
                pass  # the waiter tells a cut engine from a closed stream
            answer = waiter.result()
        if answer is None:
            raise EngineLostError(*LOST)
        error = (answer.get('Error') or {}).get('Message')
        if error:
            raise EngineError(f'the Docker Engine failed while the container ran: {error}')
        code = answer.get('StatusCode', 1)
        if code and not self._reachable():  # killed as dockerd shut down
            raise EngineLostError(*LOST)
        return code

    def _reachable(self):
        try:
            self._client.call('GET', '/_ping', timeout=10)
        except (*CUT, APIError):
            return False
        return True

    def containers(self, labels):
        """Ids of the containers (running or not) that carry all ``labels``."""
        found = self._call('GET', '/containers/json', 'cannot list containers',
                           {'all': 1, 'filters': _filters(
                               label=[f'{k}={v}' for k, v in labels.items()])})
        return [c['Id'] for c in found or ()]

    def stop_container(self, container_id):
        """Stop and remove a container if it still exists; True if it did."""
        path = f'/containers/{quote(container_id)}'
        try:
            self._client.call('POST', f'{path}/stop', {'t': 10}, timeout=TIMEOUT_STOP)
        except APIError as exc:
            if exc.status == 404:
                return False
            raise EngineError(f'cannot stop container {container_id[:12]}: '
                              f'{exc.explanation}') from None
        except CUT as exc:
            raise EngineError(f'cannot stop container {container_id[:12]}: '
                              f'{_reason(exc)}') from None
        with contextlib.suppress(*CUT, APIError):  # removed already (auto-remove)
            self._client.call('DELETE', path, {'force': 1})
        return True

    def remove_image(self, ref):
        self._call('DELETE', f'/images/{quote(ref)}', f'cannot remove image {ref}',
                   {'force': 1}, missing=(404,))


TIMEOUT_STOP = dockerapi.TIMEOUT + 10  # the engine waits up to 10 s before it kills


class _Waiter:
    """The wait call of one container, answered in a thread.

    Sent before the start, as the CLI sends it, so the exit code cannot be
    missed. If the engine goes away, the wait call breaks first (the output
    stream is a hijacked connection the daemon does not close), so the
    waiter shuts the output stream down too: the run ends at once.
    """

    def __init__(self, client, path, output_sock):
        self._answer = None
        self._response = client.stream('POST', path, {'condition': 'removed'})
        self._sock = output_sock
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self):
        import json
        try:
            self._answer = json.loads(self._response.read())
        except Exception:  # noqa: BLE001 - cut, broken, or closed by close(): no answer
            with contextlib.suppress(OSError):
                self._sock.shutdown(2)  # socket.SHUT_RDWR: end the output stream

    def result(self):
        """The engine's answer ({StatusCode, Error}), or None if it went away."""
        self._thread.join()
        self._response.close()
        return self._answer

    def close(self):
        """Give up the wait (the container never started): wake the reader first,
        as closing a stream another thread reads would block until it ends."""
        with contextlib.suppress(OSError):
            self._response.sock.shutdown(2)
        self._thread.join()
        self._response.close()


def container_spec(image, command, *, env=None, mounts=(), user=None, network=False,
                   workdir=None, gpus=None, read_only_root=False, labels=None, hostname=None,
                   cpuset=None):
    """The body of ``POST /containers/create`` (pure): no capabilities, no new
    privileges, the given mounts only, removed by the engine when it ends."""
    host = {'Mounts': [bind_mount(h, c, mode) for h, c, mode in mounts],
            'NetworkMode': 'bridge' if network else 'none', 'CapDrop': ['ALL'],
            'SecurityOpt': ['no-new-privileges'], 'AutoRemove': True,
            'ReadonlyRootfs': bool(read_only_root)}
    if read_only_root:
        host['Tmpfs'] = {'/tmp': 'rw,exec,size=1g'}
    if cpuset:
        host['CpusetCpus'] = cpuset
    if gpus:
        ids = None if gpus == 'all' else [g.strip() for g in str(gpus).split(',')]
        host['DeviceRequests'] = [{'Driver': '', 'Count': -1 if gpus == 'all' else 0,
                                   'DeviceIDs': ids, 'Capabilities': [['gpu']],
                                   'Options': {}}]
    spec = {'Image': image, 'Cmd': list(command), 'Env': [f'{k}={v}' for k, v in
                                                         (env or {}).items()],
            'Labels': dict(labels or {}), 'AttachStdout': True, 'AttachStderr': True,
            'HostConfig': host}
    for key, value in (('User', user), ('WorkingDir', workdir), ('Hostname', hostname)):
        if value:
            spec[key] = value
    return spec


def _filters(**filters):
    import json
    return json.dumps(filters)


def bind_mount(host, container, mode):
    """An Engine API bind mount of ``host`` at ``container``.

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
    """The engine's one-line explanation of ``exc``."""
    text = getattr(exc, 'explanation', None) or str(exc) or type(exc).__name__
    return ' '.join(str(text).split())
