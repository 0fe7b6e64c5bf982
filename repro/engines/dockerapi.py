"""The Docker Engine API over the daemon's socket, with the standard library.

docker-py cost every ``repro run`` 80 ms of imports (requests, urllib3) and
round trips the Docker CLI does not make (``containers.create`` inspects
what it made; logs, wait and remove came one after another); even
``http.client`` costs 13 ms of imports (it parses headers with ``email``).
The engine speaks a small part of HTTP/1.1 to a local client, and this is
that part: one connection per call (a Unix socket opens in microseconds),
JSON in and out, bodies by length, chunked or until the connection closes,
and the hijacked connection ``docker attach`` streams output on. This is
the transport of :mod:`repro.engines.dockerengine` and nothing else.
"""
import json
import os
import socket
import urllib.parse

from repro.errors import EngineError

DEFAULT_HOST = 'unix:///var/run/docker.sock'
TIMEOUT = 120  # seconds for a plain call; streams and attached output have none
MAX_LINE = 65536


class ProtocolError(ConnectionError):
    """The engine's answer broke off or was not HTTP."""


CUT = (OSError,)  # what a call raises when the engine is unreachable or goes away


class APIError(Exception):
    """The engine answered a call with an error status."""

    def __init__(self, status, explanation):
        super().__init__(explanation)
        self.status, self.explanation = status, explanation


def connector(host=None):
    """A function ``timeout -> connected socket`` to the engine ``DOCKER_HOST``
    names (as docker-py and the CLI read it: ``unix://``, or ``tcp://`` with
    TLS when ``DOCKER_TLS_VERIFY`` or ``DOCKER_CERT_PATH`` is set)."""
    host = host or os.environ.get('DOCKER_HOST') or DEFAULT_HOST
    scheme, _, rest = host.partition('://')
    if scheme == 'unix' and rest:
        def unix(timeout):
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(timeout)
            try:
                sock.connect(rest)
            except OSError:
                sock.close()
                raise
            return sock
        return unix
    if scheme == 'tcp' and rest:
        name, _, port = rest.rstrip('/').rpartition(':')
        context = _tls_context()

        def tcp(timeout):
            sock = socket.create_connection((name.strip('[]'), int(port)), timeout)
            return sock if context is None else context.wrap_socket(
                sock, server_hostname=name.strip('[]'))
        return tcp
    raise EngineError(f'DOCKER_HOST={host} is not supported',
                      'use unix:///path/to/docker.sock or tcp://HOST:PORT (forward an ssh '
                      'host with `ssh -L`)')


def _tls_context():
    verify = bool(os.environ.get('DOCKER_TLS_VERIFY'))
    certs = os.environ.get('DOCKER_CERT_PATH') or ''
    if not verify and not certs:
        return None
    import ssl
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


class Response:
    """The engine's answer on its own connection: ``status``, ``headers``
    (lower-case names) and the body through :meth:`read`. After a 101 the
    connection is the raw stream: read it from ``fp``."""

    def __init__(self, sock):
        self.sock = sock
        self.fp = sock.makefile('rb')
        status = self.fp.readline(MAX_LINE).split(None, 2)
        if len(status) < 2 or not status[0].startswith(b'HTTP/') or not status[1].isdigit():
            raise ProtocolError('the engine answered without an HTTP status line')
        self.status, self.headers = int(status[1]), {}
        while (line := self.fp.readline(MAX_LINE)).strip():
            name, _, value = line.decode('latin-1').partition(':')
            self.headers[name.strip().lower()] = value.strip()
        if not line:
            raise ProtocolError('the engine closed the connection in its answer')
        self._chunked = 'chunked' in self.headers.get('transfer-encoding', '').lower()
        length = self.headers.get('content-length')
        self._left = 0 if self.status in (101, 204, 304) else (
            int(length) if length is not None and not self._chunked else None)

    def read1(self, n=1 << 16):
        """Up to ``n`` bytes of the body (at least one), b'' at its end."""
        if self._chunked:
            if not self._left:
                size = self.fp.readline(MAX_LINE).split(b';')[0].strip()
                if not size:
                    raise ProtocolError('the engine broke off a chunked answer')
                self._left = int(size, 16)
                if not self._left:  # the last chunk: trailers, then the blank line
                    while self.fp.readline(MAX_LINE).strip():
                        pass
                    self._chunked, self._left = False, 0
                    return b''
            data = self.fp.read1(min(n, self._left))
            self._left -= len(data)
            if not data or (not self._left and self.fp.readline(MAX_LINE).strip()):
                raise ProtocolError('the engine broke off a chunked answer')
            return data
        if self._left is None:
            return self.fp.read1(n)  # until the engine closes the connection
        data = self.fp.read1(min(n, self._left)) if self._left else b''
        if self._left and not data:
            raise ProtocolError('the engine broke off its answer')
        self._left -= len(data)
        return data

    def read(self, n=None):
        """The rest of the body (up to ``n`` bytes)."""
        parts, got = [], 0
        while n is None or got < n:
            data = self.read1((1 << 16) if n is None else min(1 << 16, n - got))
            if not data:
                break
            parts.append(data)
            got += len(data)
        return b''.join(parts)

    def close(self):
        self.fp.close()
        self.sock.close()


class Client:
    """Calls to one engine; each opens its own connection."""

    def __init__(self, connect):
        self._connect = connect

    def call(self, method, path, params=None, body=None, timeout=TIMEOUT):
        """One call; its decoded JSON answer (bytes if it is not JSON, None if
        empty). APIError on an error status; OSError if the engine cannot be
        reached or breaks off its answer."""
        response = self.stream(method, path, params, body, timeout)
        try:
            data = response.read()
        finally:
            response.close()
        if not data.strip():
            return None
        if 'json' not in response.headers.get('content-type', ''):
            return data
        try:
            return json.loads(data)
        except ValueError:
            raise ProtocolError(f'the engine answered {path} with broken JSON') from None

    def stream(self, method, path, params=None, body=None, timeout=None, headers=()):
        """A call whose answer the caller reads (and closes): a :class:`Response`.
        ``body`` is JSON data, bytes, or an iterable of bytes (sent chunked)."""
        sock = self._connect(timeout)
        try:
            head = [f'{method} {_url(path, params)} HTTP/1.1', 'Host: docker',
                    'User-Agent: repro', *headers]
            if isinstance(body, (dict, list)):
                body = json.dumps(body).encode()
                head.append('Content-Type: application/json')
            if body is None or isinstance(body, bytes):
                head.append(f'Content-Length: {len(body or b"")}')
                sock.sendall(('\r\n'.join(head) + '\r\n\r\n').encode() + (body or b''))
            else:
                head += ['Content-Type: application/x-tar', 'Transfer-Encoding: chunked']
                sock.sendall(('\r\n'.join(head) + '\r\n\r\n').encode())
                for chunk in body:
                    if chunk:
                        sock.sendall(b'%x\r\n%s\r\n' % (len(chunk), chunk))
                sock.sendall(b'0\r\n\r\n')
            response = Response(sock)
            if response.status >= 400:
                raise APIError(response.status, _explanation(response.status,
                                                             response.read(MAX_LINE)))
        except BaseException:
            sock.close()
            raise
        return response

    def attach(self, path, params=None):
        """A hijacked connection, as ``docker attach`` makes one: a
        :class:`Response` whose ``fp`` carries the raw stream."""
        return self.stream('POST', path, params,
                           headers=('Connection: Upgrade', 'Upgrade: tcp'))


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
    while chunk := response.read1():
        buffer += chunk
        *lines, buffer = buffer.split(b'\n')
        for line in lines:
            if line.strip():
                yield json.loads(line)
    if buffer.strip():
        yield json.loads(buffer)
