"""The Engine API's HTTP, spoken over dockerd's local socket or through docker-py.

Importing docker-py costs about 0.1 s (requests, urllib3, http.client,
email…): more than everything else a reuse check does, half of what a warm
run adds to ``docker run``, and most of a sweep task's own work. On the
local socket (``DOCKER_HOST`` unset or ``unix://…``) :class:`LocalHTTP`
speaks the API with the standard library; any other engine (tcp, TLS, ssh)
is reached through docker-py (:class:`DockerPyHTTP`), imported only then.
Both give :class:`Answer` objects and raise only ``OSError``:
``ConnectionError`` when the connection was cut, so callers handle one
set of failures (:mod:`repro.engines.dockerengine`).
"""
import json
import socket
import struct
from typing import NamedTuple
from urllib.parse import quote, urlencode

DEFAULT_SOCKET = '/var/run/docker.sock'
CUT_SHORT = 'the engine closed the connection mid-answer'


class Answer(NamedTuple):
    status: int
    headers: dict   # names in lower case
    body: bytes

    def json(self):
        return json.loads(self.body or b'null')

    def message(self):
        """The engine's one-line reason for an error answer."""
        try:
            text = self.json().get('message')
        except (ValueError, AttributeError):
            text = None
        text = text or self.body.decode('utf-8', 'replace') or f'HTTP {self.status}'
        return ' '.join(str(text).split())


def unix_socket_path(host):
    """The socket path of a ``unix://`` (or unset) engine address, else None (pure)."""
    if not host:
        return DEFAULT_SOCKET
    if host.startswith('unix://') and len(host) > len('unix://'):
        return host[len('unix://'):]
    return None


def api_path(template, *args):
    """``template`` with ``args`` quoted as docker-py quotes them (keeping / and :)."""
    return template.format(*(quote(str(a), safe='/:') for a in args))


def frames(read):
    """(stream, bytes) frames of a non-TTY attach stream; ``read(n)`` returns
    up to n bytes, b'' at the end. Each frame is an 8-byte header (stream
    number, 3 zero bytes, big-endian size) and its payload."""
    while True:
        header = _read_exactly(read, 8)
        if len(header) < 8:  # the end, or a stream cut short
            return
        stream, size = struct.unpack('>BxxxL', header)
        data = _read_exactly(read, size) if size else b''
        if len(data) < size:
            return
        yield stream, data


def _read_exactly(read, n):
    data = b''
    while len(data) < n:
        chunk = read(n - len(data))
        if not chunk:
            break
        data += chunk
    return data


class LocalHTTP:
    """HTTP/1.1 over a Unix socket, one connection per request (``Connection:
    close``: connecting costs microseconds, and no pool is kept)."""

    def __init__(self, path, timeout, version=None):
        self.path, self.timeout, self.version = path, timeout, version

    def request(self, method, path, params=None, body=None, timeout=..., versioned=True):
        """The whole :class:`Answer`. ``body``: JSON-able, or bytes."""
        conn, status, headers = self._open(method, path, params, body, timeout, versioned)
        with conn:
            return Answer(status, headers, b''.join(_body(conn, headers, status)))

    def stream(self, method, path, params=None, chunks=None):
        """An iterator of the answer's body pieces, as they come; OSError if
        the engine refused. ``chunks``: the request body, sent chunked.
        Close the iterator to drop the connection early."""
        conn, status, headers = self._open(method, path, params, chunks, timeout=...,
                                           versioned=True)
        if status >= 400:
            raise _refusal(conn, status, headers)

        def pieces():
            with conn:
                yield from _body(conn, headers, status)
        return pieces()

    def attach(self, path, params):
        """The upgraded connection of an attach call: ``(file, read)`` where
        ``read(n)`` reads the raw stream. The stream has no timeout (a run
        takes as long as it takes); the answer's head has the usual one."""
        conn, status, headers = self._open('POST', path, params, None, timeout=...,
                                           versioned=True, upgrade=True)
        if status not in (101, 200):
            raise _refusal(conn, status, headers)
        return conn, conn.read1

    def _open(self, method, path, params, body, timeout, versioned, upgrade=False):
        timeout = self.timeout if timeout is ... else timeout
        target = (f'/v{self.version}' if versioned and self.version else '') + path
        if params:
            target += '?' + urlencode(params)
        head = [f'{method} {target} HTTP/1.1', 'Host: docker']
        head += ['Connection: Upgrade', 'Upgrade: tcp'] if upgrade else ['Connection: close']
        chunked = body is not None and not isinstance(body, (bytes, dict, list))
        if chunked:
            head += ['Content-Type: application/x-tar', 'Transfer-Encoding: chunked']
        else:
            if body is not None and not isinstance(body, bytes):
                body = json.dumps(body).encode()
                head.append('Content-Type: application/json')
            head.append(f'Content-Length: {len(body or b"")}')
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            try:
                sock.connect(self.path)
            except (FileNotFoundError, ConnectionRefusedError) as exc:
                # No daemon there (dockerd removes its socket as it stops):
                # a cut connection, as docker-py's requests reported it.
                raise ConnectionError(exc.errno, exc.strerror) from None
            sock.sendall(('\r\n'.join(head) + '\r\n\r\n').encode('latin-1')
                         + (b'' if chunked else body or b''))
            if chunked:
                _send_chunked(sock, body)
            conn = sock.makefile('rb')  # keeps the connection open once sock is closed
            try:
                status, headers = _read_head(conn)
                if upgrade and status == 101:
                    sock.settimeout(None)
            except BaseException:
                conn.close()
                raise
        return conn, status, headers


def _refusal(conn, status, headers):
    """The OSError of an error answer, its body read and its connection closed."""
    with conn:
        return OSError(Answer(status, headers, b''.join(_body(conn, headers, status))).message())


def _send_chunked(sock, chunks):
    for chunk in chunks:
        if chunk:
            sock.sendall(b'%x\r\n%s\r\n' % (len(chunk), chunk))
    sock.sendall(b'0\r\n\r\n')


def _read_head(conn):
    """(status, headers) of the final answer (interim 1xx heads other than
    101 are skipped); ConnectionError if the engine hung up or garbled it."""
    while True:
        line = conn.readline(65537)
        while line in (b'\r\n', b'\n'):  # tolerated before a status line
            line = conn.readline(65537)
        parts = line.split(None, 2)
        if len(parts) < 2 or not parts[0].startswith(b'HTTP/') or not parts[1].isdigit():
            raise ConnectionError('the engine closed the connection' if not line
                                  else f'not an HTTP answer: {line[:80]!r}')
        headers = {}
        while (line := conn.readline(65537)) not in (b'\r\n', b'\n', b''):
            name, _, value = line.decode('latin-1').partition(':')
            headers[name.strip().lower()] = value.strip()
        status = int(parts[1])
        if not 100 <= status < 200 or status == 101:
            return status, headers


def _number(text, base=10):
    """A chunk size or a length; ConnectionError if it is not one."""
    try:
        value = int(text, base)
    except ValueError:
        value = -1
    if value < 0 or not text.strip():
        raise ConnectionError(f'the engine sent a malformed answer ({text[:40]!r})')
    return value


def _body(conn, headers, status):
    """The answer's body, piece by piece: by its length, its chunks, or to
    the end of the connection. ConnectionError if it stops short."""
    if status in (204, 304) or 100 <= status < 200:
        return
    if 'chunked' in headers.get('transfer-encoding', '').lower():
        while True:
            line = conn.readline(65537)
            if not line:
                raise ConnectionError(CUT_SHORT)
            size = _number(line.split(b';')[0].strip(), 16)
            if size == 0:
                while conn.readline(65537) not in (b'\r\n', b'\n', b''):
                    pass  # trailers
                return
            data = conn.read(size)
            if len(data) < size:
                raise ConnectionError(CUT_SHORT)
            conn.readline(65537)
            yield data
    elif 'content-length' in headers:
        left = _number(headers['content-length'])
        while left:
            data = conn.read1(min(left, 1 << 20))
            if not data:
                raise ConnectionError(CUT_SHORT)
            left -= len(data)
            yield data
    else:
        while data := conn.read1(1 << 20):
            yield data


class DockerPyHTTP:
    """The same calls through docker-py's ``APIClient`` (a ``requests``
    session): remote engines, TLS and ssh. Its failures become ``OSError``,
    the cut ones ``ConnectionError``."""

    def __init__(self, api):
        self.api = api

    @classmethod
    def connect(cls, host, timeout, version=None):
        import docker
        with _translated():  # kwargs_from_env checks DOCKER_TLS_VERIFY's files
            kwargs = {'base_url': host} if host else docker.utils.kwargs_from_env()
            api = docker.APIClient(version=version or docker.constants.MINIMUM_DOCKER_API_VERSION,
                                   timeout=timeout, **kwargs)
        return cls(api)

    @property
    def version(self):
        return self.api.api_version

    def request(self, method, path, params=None, body=None, timeout=..., versioned=True):
        with _translated():
            answer = self._send(method, path, params, body, timeout, versioned, stream=False)
            return Answer(answer.status_code, {k.lower(): v for k, v in answer.headers.items()},
                          answer.content)

    def stream(self, method, path, params=None, chunks=None):
        with _translated():
            answer = self._send(method, path, params, chunks, ..., True, stream=True)
        if answer.status_code >= 400:
            with answer:
                raise OSError(Answer(answer.status_code, {}, answer.content).message())

        def pieces():
            with _translated():
                try:
                    yield from answer.iter_content(1 << 20)
                finally:
                    answer.close()
        return pieces()

    def attach(self, path, params):
        container = path.split('/')[-2]  # docker-py's attach takes the id: /containers/ID/attach
        with _translated():
            sock = self.api.attach_socket(container, params=params)
        from docker.utils.socket import read

        def read_some(n):
            with _translated():
                return read(sock, n)
        return sock, read_some

    def _send(self, method, path, params, body, timeout, versioned, stream):
        url = self.api.base_url + (f'/v{self.api.api_version}' if versioned else '') + path
        kwargs = {'json': body} if isinstance(body, (dict, list)) else {'data': body}
        return self.api.request(method, url, params=params, stream=stream,
                                timeout=self.api.timeout if timeout is ... else timeout,
                                **kwargs)


class _translated:
    """docker-py's and requests' exceptions as ``OSError``; a cut connection
    as ``ConnectionError``."""

    def __enter__(self):
        return self

    def __exit__(self, kind, exc, tb):
        if kind is None or not issubclass(kind, Exception):
            return False
        import docker
        import requests
        import urllib3
        cut = (requests.exceptions.ConnectionError, requests.exceptions.ChunkedEncodingError,
               urllib3.exceptions.ProtocolError)
        text = plain_reason(' '.join((getattr(exc, 'explanation', None) or str(exc)
                                      or kind.__name__).split()))
        if isinstance(exc, cut):
            raise ConnectionError(text) from None
        if isinstance(exc, (docker.errors.DockerException, requests.exceptions.RequestException)):
            raise OSError(text) from None
        return False  # an OSError already, or a bug


def plain_reason(text):
    """The socket's or TLS's own reason inside a requests/urllib3 message
    ("Connection refused" out of ``HTTPConnectionPool(host=…): Max retries
    exceeded … [Errno 111] Connection refused'))``); other texts unchanged
    (pure)."""
    if 'Pool(' not in text:
        return text
    import re
    for pattern in (r"\[Errno -?\d+\] ([^'\"()\[\]]+)", r"\[SSL[^\]]*\] ([^'\"()\[\]]+)"):
        found = re.search(pattern, text)
        if found:
            return found.group(1).strip()
    return 'timed out' if 'timed out' in text else text
