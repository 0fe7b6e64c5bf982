"""A container engine without a daemon, for tests of run and replay (not fixtures).

:class:`FakeEngine` implements :class:`repro.engines.interface.ContainerEngine`: it
holds a few image IDs and "runs" a container by calling ``behave(call)``
on the host, which writes outputs into the mounted directory and returns
an exit code, or raises what the real engine would.
"""
import dataclasses
import os
import re
import shutil
import subprocess

from repro import contract
BASE_ID = 'sha256:' + '1' * 64
IMAGE_ID = 'sha256:' + 'e' * 64
LAYERS = ['sha256:' + c * 64 for c in 'abc']


@dataclasses.dataclass
class Call:
    """One container the fake ran, as the core asked for it."""
    image: str
    command: list
    env: dict
    mounts: list
    user: str
    network: bool
    workdir: str
    gpus: object
    labels: dict
    hostname: str
    cpuset: object = None

    def mounted(self, target):
        return next(host for host, cont, _mode in self.mounts if cont == target)


class FakeEngine:
    def __init__(self, behave=None, images=(BASE_ID, IMAGE_ID)):
        self.held = set(images)
        self.built = {}
        self.behave = behave or (lambda call: 0)
        self.calls = []

    def version(self):
        return 'fake-1.0'

    def image_id(self, ref):
        if ref == 'repro-base:bookworm':
            ref = BASE_ID
        return ref if ref in self.held else None

    def repo_digests(self, ref):
        return []

    def image_layers(self, ref):
        return list(LAYERS)

    def save_image(self, ref, out):
        raise AssertionError('the fake engine builds no images')

    def load(self, archive_path):
        raise AssertionError('the fake engine loads no images')

    def load_image(self, write_archive):
        raise AssertionError('the fake engine builds no images')

    def image_history(self, ref):
        return []

    def layer_chains(self, label):
        return set()

    def images(self, label):
        """The fake's images, each labelled with its own key (``built`` maps
        image ID -> key for the ones a test says repro built)."""
        return [{'Id': i, 'RepoTags': [], 'Size': 1000,
                 'Labels': {'org.repro.key': self.built.get(i, 'none')}}
                for i in sorted(self.held)]

    def run(self, image, command, *, env=None, mounts=(), user=None, network=False,
            workdir=None, gpus=None, on_output=None, read_only_root=False, labels=None,
            on_start=None, hostname=None, cpuset=None):
        call = Call(image, list(command), dict(env or {}), list(mounts), user, network,
                    workdir, gpus, dict(labels or {}), hostname, cpuset)
        self.calls.append(call)
        if on_start:
            on_start(f'container-{len(self.calls)}')
        code = self.behave(call)
        if on_output:
            on_output(b'hello from the container\n')
        return code, None

    def containers(self, labels):
        return []

    def stop_container(self, container_id):
        return False

    def remove_image(self, ref):
        self.held.discard(ref)


def project(root, launcher='train.py'):
    """A committed git project with a fresh lock (copied from this repository)."""
    repo_root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    root.mkdir()
    subprocess.run(['git', 'init', '-q', str(root)], check=True)
    (root / launcher).write_text('print("hi")\n')
    for name in ('requirements.in', 'requirements.lock'):
        shutil.copy(os.path.join(repo_root, name), root)
    return root


def fake_project(tmp_path, monkeypatch, engine=None):
    """A :func:`project` at ``tmp_path/proj`` whose image the fake engine has
    (:func:`remember_image`), with repro's cache under ``tmp_path``, the store
    in the project (no ``REPRO_HOME``) and no reaper process started."""
    from repro.engines import reaper
    monkeypatch.setenv('REPRO_CACHE', str(tmp_path / 'cache'))
    monkeypatch.delenv('REPRO_HOME', raising=False)
    monkeypatch.setattr(reaper, 'spawn', lambda *args: None)
    root = project(tmp_path / 'proj')
    remember_image(engine or FakeEngine(), root)
    return root


def remember_image(engine, root, image_id=IMAGE_ID):
    """Record ``image_id`` as the one repro built for the project's image key,
    so a run reuses it (the fake builds nothing)."""
    from repro.images.image import record_image
    from repro.execute.prepare import plan, read_inputs
    record_image(plan(engine, read_inputs(str(root))).key, image_id)


def write_outputs(files):
    """A ``behave`` that writes ``files`` {name: text} into the outputs, exit 0."""
    def behave(call):
        outputs = call.mounted(contract.OUTPUTS)
        for name, text in files.items():
            with open(os.path.join(outputs, name), 'w') as f:
                f.write(text.format(seed=call.env[contract.ENV_SEED],
                                    args=' '.join(call.command[4:])))
        return 0
    return behave


class PlanEngine:
    """The DockerEngine methods the image code uses, with canned answers."""

    def __init__(self, images=None, repo_digests=None, build_exit=0, output=b''):
        self.images = dict(images or {})
        self._repo_digests = repo_digests or {}
        self.build_exit = build_exit
        self.output = output
        self.loaded = []

    def image_id(self, ref):
        return self.images.get(ref)

    def repo_digests(self, ref):
        return self._repo_digests.get(ref, [])

    def find_image(self, label, value):
        return None

    def image_layers(self, ref):
        return []

    def image_history(self, ref):
        return []

    def layer_chains(self, label):
        return set()

    def save_image(self, ref, out):
        import io
        import json
        import tarfile
        config = json.dumps({'rootfs': {'diff_ids': []}, 'history': []}).encode()
        manifest = json.dumps([{'Config': 'c.json', 'Layers': []}]).encode()
        with tarfile.open(fileobj=out, mode='w') as tar:
            for name, data in (('c.json', config), ('manifest.json', manifest)):
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))

    def run(self, image, command, **kwargs):
        kwargs['on_output'](self.output)
        return self.build_exit, None


class FakeDaemon:
    """A Docker Engine API on a Unix socket, answering from a script (no Docker).

    It tests :class:`repro.engines.dockerengine.DockerEngine` over its real
    transports: the local socket, or with ``tcp`` a TCP port (``url``
    names it), which docker-py serves. ``calls`` lists ``(method, path)`` as they arrive (queries
    dropped), ``bodies`` the JSON bodies by path. A run's container writes
    ``output`` (a list of bytes frames) to the attached stream, then exits
    with ``exit_code``; ``start_error`` makes the start fail, ``cut`` makes
    the engine drop the wait call mid-run (as a stopped dockerd would), ``load_messages``
    are what a load answers.
    """

    def __init__(self, path, output=(), exit_code=0, start_error=None, cut=False,
                 load_messages=(), headers=True, tcp=False):
        import http.server
        import socketserver
        import threading
        self.path, self.calls, self.bodies = str(path), [], {}
        self.output, self.exit_code, self.start_error, self.cut = output, exit_code, \
            start_error, cut
        self.load_messages = load_messages
        self.headers = headers  # dockerd's Api-Version and Server: Docker/… on every answer
        self.started, self.gone = threading.Event(), threading.Event()
        self.written = threading.Event()  # the output is out
        daemon = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = 'HTTP/1.1'

            def log_message(self, *args):
                pass

            def version_string(self):
                return 'Docker/fake-20.10 (linux)' if daemon.headers else 'FakeEngine/1'

            def do_GET(self):
                daemon.handle(self)

            do_POST = do_DELETE = do_GET

        class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
            daemon_threads = True

        class TCPServer(socketserver.ThreadingMixIn, socketserver.TCPServer):
            daemon_threads = True

        if tcp:  # an engine that is not on this host's socket: docker-py carries the calls
            self.server = TCPServer(('127.0.0.1', 0), Handler)
            self.url = 'tcp://127.0.0.1:%d' % self.server.server_address[1]
        else:
            self.server = Server(self.path, Handler)
            self.url = f'unix://{self.path}'
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def handle(self, req):
        import json
        path = re.sub(r'^/v[0-9.]+/', '/', req.path.split('?')[0])  # docker-py's /v1.41/…
        length = int(req.headers.get('Content-Length') or 0)
        if req.headers.get('Transfer-Encoding') == 'chunked':
            body = b''
            while (size := int(req.rfile.readline().strip(), 16)):
                body += req.rfile.read(size)
                req.rfile.readline()
            req.rfile.readline()
        else:
            body = req.rfile.read(length) if length else b''
        self.calls.append((req.command, path))
        if body[:1] == b'{':
            self.bodies[path] = json.loads(body)
        action = path.rsplit('/', 1)[-1]
        if path == '/version':
            return self.reply(req, 200, {'Version': 'fake-20.10', 'ApiVersion': '1.41'})
        if path == '/_ping':
            return self.reply(req, 200 if not self.gone.is_set() else 500, b'OK')
        if path == '/containers/create':
            return self.reply(req, 201, {'Id': 'c0ffee' * 10 + 'abcd', 'Warnings': []})
        if action == 'attach':
            req.wfile.write(b'HTTP/1.1 101 UPGRADED\r\nContent-Type: '
                            b'application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\n'
                            b'Upgrade: tcp\r\n\r\n')
            req.wfile.flush()
            self.started.wait(10)
            for chunk in self.output:
                req.wfile.write(b'\x01\0\0\0' + len(chunk).to_bytes(4, 'big') + chunk)
                req.wfile.flush()
            self.written.set()
            req.close_connection = True  # the container ended, or the daemon went away
            return None
        if action == 'wait':
            req.send_response(200)
            req.send_header('Content-Type', 'application/json')
            req.send_header('Transfer-Encoding', 'chunked')
            req.end_headers()
            req.wfile.flush()
            self.started.wait(10)
            if self.cut:
                self.written.wait(10)
                self.gone.set()
                req.close_connection = True
                return None  # the connection drops without an answer
            data = json.dumps({'StatusCode': self.exit_code, 'Error': None}).encode()
            req.wfile.write(b'%x\r\n%s\r\n0\r\n\r\n' % (len(data), data))
            return None
        if action == 'start':
            if self.start_error:
                return self.reply(req, 500, {'message': self.start_error})
            self.started.set()
            return self.reply(req, 204, b'')
        if action in ('stop', 'kill') or req.command == 'DELETE':
            return self.reply(req, 204, b'')
        if path == '/images/load':
            return self.reply(req, 200, b''.join(json.dumps(m).encode() + b'\r\n'
                                                 for m in self.load_messages))
        return self.reply(req, 404, {'message': f'no such thing: {path}'})

    def reply(self, req, status, data):
        import json
        is_json = not isinstance(data, bytes)
        data = json.dumps(data).encode() if is_json else data
        req.send_response(status)
        if self.headers:
            req.send_header('Api-Version', '1.41')
        req.send_header('Content-Type', 'application/json' if is_json else 'text/plain')
        req.send_header('Content-Length', str(len(data)))
        req.end_headers()
        req.wfile.write(data)
