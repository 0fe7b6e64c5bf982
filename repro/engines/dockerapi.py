"""The Docker Engine API over the daemon's socket, with the standard library.

docker-py cost every ``repro run`` 80 ms of imports (requests, urllib3) and
round trips the Docker CLI does not make (``containers.create`` inspects
what it made; logs, wait and remove came one after another). This is the
transport of :mod:`repro.engines.dockerengine` and nothing else: one
connection per call (a Unix socket costs microseconds to open), JSON in and
out, and the two kinds of stream the engine answers with, a chunked body
(:meth:`Client.stream`) and a hijacked connection (:meth:`Client.attach`).
"""
import http.client
import json
import os
import socket
import ssl
import urllib.parse

from repro.errors import EngineError

DEFAULT_HOST = 'unix:///var/run/docker.sock'
TIMEOUT = 120  # seconds for a plain call; streams and attached output have none
# What a call raises when the engine is unreachable or goes away mid-call.
CUT = (OSError, http.client.HTTPException)


class APIError(Exception):
    """The engine answered a call with an error status."""

    def __init__(self, status, explanation):
        super().__init__(explanation)
        self.status, self.explanation = status, explanation


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout):
        super().__init__('localhost', timeout=timeout)
        self._path = path

    def connect(self):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self._path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


def connector(host=None):
    """A function ``timeout -> HTTPConnection`` to the engine ``DOCKER_HOST``
    names (as docker-py and the CLI read it: ``unix://``, or ``tcp://`` with
    TLS when ``DOCKER_TLS_VERIFY`` or ``DOCKER_CERT_PATH`` is set)."""
    host = host or os.environ.get('DOCKER_HOST') or DEFAULT_HOST
    scheme, _, rest = host.partition('://')
    if scheme == 'unix' and rest:
        return lambda timeout: _UnixConnection(rest, timeout)
    if scheme == 'tcp' and rest:
        netloc, context = rest.rstrip('/'), _tls_context()
        if context is None:
            return lambda timeout: http.client.HTTPConnection(netloc, timeout=timeout)
        return lambda timeout: http.client.HTTPSConnection(netloc, timeout=timeout,
                                                           context=context)
    raise EngineError(f'DOCKER_HOST={host} is not supported',
                      'use unix:///path/to/docker.sock or tcp://HOST:PORT (forward an ssh '
                      'host with `ssh -L`)')


def _tls_context():
    verify = bool(os.environ.get('DOCKER_TLS_VERIFY'))
    certs = os.environ.get('DOCKER_CERT_PATH') or ''
    if not verify and not certs:
        return None
    certs = certs or os.path.join(os.path.expanduser('~'), '.docker')
    context = ssl.create_default_context(
        cafile=os.path.join(certs, 'ca.pem') if verify else None)
    if not verify:
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    cert, key = os.path.join(certs, 'cert.pem'), os.path.join(certs, 'key.pem')
    if os.path.exists(cert) and os.path.exists(key):
        context.load_cert_chain(cert, key)
    return context


def quote(ref):
    """A name, tag or id as one path segment of a URL (``/`` and ``:`` stay,
    as the engine's router expects them)."""
    return urllib.parse.quote(ref, safe='/:@')


def _url(path, params):
    params = {k: v for k, v in (params or {}).items() if v is not None}
    return path + ('?' + urllib.parse.urlencode(params) if params else '')


def _explanation(status, data):
    try:
        message = json.loads(data.decode('utf-8', 'replace')).get('message')
    except (ValueError, AttributeError):
        message = None
    text = message or data.decode('utf-8', 'replace').strip() or f'HTTP {status}'
    return ' '.join(text.split())


class Client:
    """Calls to one engine; each opens its own connection."""

    def __init__(self, connect):
        self._connect = connect

    def call(self, method, path, params=None, body=None, timeout=TIMEOUT):
        """One call; its decoded JSON answer (bytes if it is not JSON, None if
        empty). APIError on an error status; OSError or HTTPException if the
        engine cannot be reached or answers with broken JSON."""
        conn = self._connect(timeout)
        try:
            response = self._send(conn, method, path, params, body)
            data = response.read()
        finally:
            conn.close()
        if response.status >= 400:
            raise APIError(response.status, _explanation(response.status, data))
        if not data.strip():
            return None
        if 'json' not in (response.getheader('Content-Type') or ''):
            return data
        try:
            return json.loads(data)
        except ValueError:
            raise http.client.HTTPException(f'the engine answered {path} with broken JSON') \
                from None

    def stream(self, method, path, params=None, body=None, timeout=None):
        """A call whose answer streams: ``(connection, response)``, both the
        caller's to close. ``body`` may be an iterable of bytes (sent chunked)."""
        conn = self._connect(timeout)
        try:
            response = self._send(conn, method, path, params, body)
            if response.status >= 400:
                raise APIError(response.status, _explanation(response.status, response.read()))
        except BaseException:
            conn.close()
            raise
        return conn, response

    def attach(self, path, params=None):
        """A hijacked connection, as ``docker attach`` makes one: ``(socket,
        response)``; the raw stream the engine writes after its answer is
        ``response.fp`` (the response must live as long: it closes it)."""
        conn = self._connect(None)
        try:
            conn.putrequest('POST', _url(path, params), skip_accept_encoding=True)
            for name, value in (('Connection', 'Upgrade'), ('Upgrade', 'tcp'),
                                ('Content-Length', '0')):
                conn.putheader(name, value)
            conn.endheaders()
            sock = conn.sock
            response = conn.getresponse()
            if response.status not in (101, 200):
                raise APIError(response.status, _explanation(response.status, response.read()))
        except BaseException:
            conn.close()
            raise
        return sock, response

    @staticmethod
    def _send(conn, method, path, params, body):
        headers = {}
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            headers['Content-Type'] = 'application/json'
        elif body is not None and not isinstance(body, bytes):
            headers['Content-Type'] = 'application/x-tar'
        conn.request(method, _url(path, params), body=body, headers=headers)  # iterables: chunked
        return conn.getresponse()


def frames(reader):
    """Payloads of the engine's multiplexed stdout/stderr stream, in order
    (each frame: stream byte, three zero bytes, big-endian length, payload)."""
    while True:
        header = reader.read(8)
        if len(header) < 8:
            return
        size = int.from_bytes(header[4:], 'big')
        payload = reader.read(size) if size else b''
        if payload:
            yield payload
        if len(payload) < size:
            return


def json_lines(response):
    """The JSON messages of a streamed answer (``docker load``'s progress)."""
    buffer = b''
    while chunk := response.read1(1 << 16):
        buffer += chunk
        *lines, buffer = buffer.split(b'\n')
        for line in lines:
            if line.strip():
                yield json.loads(line)
    if buffer.strip():
        yield json.loads(buffer)
