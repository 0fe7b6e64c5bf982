"""Starting ``repro ui``: the extra, the socket, who may connect, the URL.

Nothing here imports the web stack (:mod:`repro.ui.server` does, when the
server starts), so a missing extra is a one-line error, not a traceback.
The socket is bound before anything is printed: a port in use fails
before a URL that leads nowhere is shown, and ``--port 0`` prints the port
the system chose.
"""
import errno
import ipaddress
import secrets
import socket

from repro.errors import ConfigError, ServeError


def require_extra():
    """Fail in one line when the optional web stack is not installed."""
    import importlib.util
    missing = [m for m in ('starlette', 'uvicorn') if importlib.util.find_spec(m) is None]
    if missing:
        raise ConfigError(f'repro ui needs {" and ".join(missing)}, which '
                          f'{"is" if len(missing) == 1 else "are"} not installed',
                          'install repro[ui]: pip install "repro[ui]"')


def is_loopback(host):
    """Whether ``host`` is a loopback address or ``localhost`` (pure)."""
    if host.lower() == 'localhost':
        return True
    try:
        return ipaddress.ip_address(host.strip('[]')).is_loopback
    except ValueError:
        return False


def access(host, token):
    """(token the server requires or None, warning or None) for ``--host``/``--token``.

    On loopback a token is optional. Anywhere else the server warns, and
    requires ``--token``, or one it makes up and prints in the URL.
    """
    if token is not None and (len(token) < 16 or not token.isascii()
                              or not token.isprintable() or any(c in token for c in ' ;,&#%')):
        raise ConfigError('a --token must be at least 16 printable ASCII characters, '
                          'without spaces or ; , & # %')
    if is_loopback(host):
        return token, None
    return token or secrets.token_urlsafe(24), (
        f'warning: serving on {host}, not loopback: anyone who can reach this machine and '
        'has the token can read every run in the store')


def listen(host, port):
    """A listening socket on (host, port); a one-line error if it cannot be had."""
    if not 0 <= port <= 65535:
        raise ConfigError(f'--port {port} is not a port (0 to 65535; 0 picks a free one)')
    try:
        infos = socket.getaddrinfo(host.strip('[]'), port, type=socket.SOCK_STREAM)
        family, _type, _proto, _name, address = infos[0]
        sock = socket.socket(family, socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise ServeError(f'cannot listen on {host}: {getattr(exc, "strerror", None) or exc}',
                         'give --host an address of this machine') from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        hint = ('choose another --port, or --port 0 for a free one'
                if exc.errno == errno.EADDRINUSE else 'give --host an address of this machine')
        raise ServeError(f'cannot listen on {host}:{port}: {exc.strerror}', hint) from None
    return sock


def url(sock, host, token):
    """The address to open, with the token when one is required (pure but for the socket)."""
    port = sock.getsockname()[1]
    shown = f'[{host.strip("[]")}]' if ':' in host else host
    return f'http://{shown}:{port}/' + (f'?token={token}' if token else '')


def start(store, host, port, token, echo):
    """Bind, print the URL, serve until Ctrl-C (after :func:`require_extra`)."""
    token, warning = access(host, token)
    sock = listen(host, port)
    from repro.ui import server
    app = server.make_app(store, token, loopback=is_loopback(host))
    if warning:
        echo(warning, err=True)
    echo(f'repro ui: serving the runs of {store.root} read-only at {url(sock, host, token)}')
    echo('press Ctrl-C to stop')
    server.serve(app, sock)
