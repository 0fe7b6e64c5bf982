"""The run browser's HTTP layer (Starlette on uvicorn): routes, a guard, errors.

The only importer of ``starlette`` and ``uvicorn``, and a thin one: each
route calls one function of :mod:`repro.ui.api` and returns its JSON. The
pages are one static shell (``static/index.html``) whose scripts draw
everything from the JSON endpoints, as text, never as markup.

Every request passes :class:`Guard` first (:func:`refusal` is its pure
rule): on loopback the ``Host`` header must name a loopback host (a web page
elsewhere cannot reach the server through DNS rebinding); with a token, the
request must carry it (``?token=``, then a cookie it sets, or
``Authorization: Bearer``), compared in constant time. Every response says
``no-store``, ``nosniff``, ``no-referrer`` (the token is in the URL) and a
content security policy that allows this origin's scripts only.
"""
import hmac
import ipaddress
import os
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from repro.errors import (AmbiguousRunError, ConfigError, ReproError, RunNotFoundError,
                          UntrustedFileError, VerificationError)
from repro.ui import api

STATIC = os.path.join(os.path.dirname(__file__), 'static')
TYPES = {'index.html': 'text/html; charset=utf-8', 'app.js': 'text/javascript; charset=utf-8',
         'chart.js': 'text/javascript; charset=utf-8', 'style.css': 'text/css; charset=utf-8'}
COOKIE = 'repro_ui_token'
HEADERS = {
    'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self'; "
                               "img-src 'self' data:; connect-src 'self'; base-uri 'none'; "
                               "form-action 'none'; frame-ancestors 'none'",
    'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer',
    'cache-control': 'no-store', 'x-frame-options': 'DENY',
}
# The first class a ReproError is an instance of gives its HTTP status.
STATUS = ((ConfigError, 400), (RunNotFoundError, 404), (AmbiguousRunError, 404),
          (UntrustedFileError, 403), (VerificationError, 409), (ReproError, 422))


def loopback_host(host_header):
    """Whether a ``Host`` header names this machine's loopback (pure)."""
    host = (host_header or '').strip().lower()
    name = host[1:host.find(']')] if host.startswith('[') else host.rsplit(':', 1)[0]
    if name == 'localhost':
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def refusal(host_header, offered, token, loopback):
    """(status, reason) to refuse a request with, or None to let it through (pure).

    ``offered``: the tokens the request carries; ``token``: the one required
    (None: none is); ``loopback``: whether the server listens on loopback only.
    """
    if loopback and not loopback_host(host_header):
        return 421, 'this server answers on loopback only (a Host header that is not ' \
                    'localhost or a loopback address)'
    if token is not None and not any(
            hmac.compare_digest(t.encode('utf-8', 'surrogateescape'), token.encode())
            for t in offered if isinstance(t, str)):
        return 401, 'a token is needed: open the URL `repro ui` printed (…?token=…)'
    return None


class Guard:
    """ASGI middleware: :func:`refusal` on every request, then the headers."""

    def __init__(self, app, token, loopback):
        self.app, self.token, self.loopback = app, token, loopback

    async def __call__(self, scope, receive, send):
        if scope['type'] != 'http':
            return await self.app(scope, receive, send)
        request = Request(scope)
        query = parse_qs(scope.get('query_string', b'').decode('latin-1')).get('token', [])
        auth = request.headers.get('authorization', '')
        # one cookie per port: browsers share cookies across a host's ports
        cookie = f'{COOKIE}_{(scope.get("server") or ("", 0))[1]}'
        offered = [*query, request.cookies.get(cookie, ''),
                   auth[7:] if auth.lower().startswith('bearer ') else '']
        refused = refusal(request.headers.get('host'), offered, self.token, self.loopback)
        if refused:
            return await _with_headers(JSONResponse({'error': refused[1]}, refused[0]))(
                scope, receive, send)
        set_cookie = self.token is not None and bool(query)

        async def send_with_headers(message):
            if message['type'] == 'http.response.start':
                headers = [(k, v) for k, v in message.get('headers', [])
                           if k.decode('latin-1').lower() not in HEADERS]
                headers += [(k.encode(), v.encode()) for k, v in HEADERS.items()]
                if set_cookie:  # the page's own requests then carry the token
                    headers.append((b'set-cookie', f'{cookie}={self.token}; HttpOnly; '
                                                   'SameSite=Strict; Path=/'.encode()))
                message = {**message, 'headers': headers}
            await send(message)
        await self.app(scope, receive, send_with_headers)


def _with_headers(response):
    response.headers.update(HEADERS)
    return response


def _json(call):
    """A sync endpoint (Starlette runs it in a thread) answering with ``call``'s
    response, or its JSON; a ReproError becomes its status and one line."""
    def endpoint(request):
        try:
            result = call(request)
            return result if isinstance(result, Response) else JSONResponse(result)
        except ReproError as exc:
            status = next(code for cls, code in STATUS if isinstance(exc, cls))
            return JSONResponse({'error': str(exc)}, status)
    return endpoint


def make_app(store, token=None, loopback=True):
    """The ASGI app serving ``store`` read-only."""
    static = {}
    for name, kind in TYPES.items():
        with open(os.path.join(STATIC, name), 'rb') as f:
            static[name] = Response(f.read(), media_type=kind)

    def page(request):
        return static['index.html']

    def asset(request):
        return static.get(request.path_params['name']) or JSONResponse(
            {'error': 'no such file'}, 404)

    def artifact(request):
        p = request.path_params
        return Response(api.artifact(store, p['run_id'], p['path']),
                        media_type='application/octet-stream',
                        headers={'content-disposition': 'attachment'})

    def q(request, name):
        return request.query_params.get(name)

    routes = [Route(path, page) for path in ('/', '/runs/{run_id}', '/compare',
                                             '/sweeps/{sweep_id}')]
    routes += [
        Route('/static/{name}', asset),
        Route('/favicon.ico', lambda request: Response(status_code=204)),
        Route('/api/runs', _json(lambda r: api.runs(store))),
        Route('/api/runs/{run_id}', _json(lambda r: api.run(store, r.path_params['run_id']))),
        Route('/api/runs/{run_id}/scalars', _json(
            lambda r: api.scalars(store, r.path_params['run_id'], q(r, 'metric')))),
        Route('/api/runs/{run_id}/verify', _json(
            lambda r: api.verify(store, r.path_params['run_id'])), methods=['POST']),
        Route('/api/runs/{run_id}/artifacts/{path:path}', _json(artifact)),
        Route('/api/compare', _json(lambda r: api.compare(store, q(r, 'a'), q(r, 'b'),
                                                           q(r, 'metric')))),
        Route('/api/sweeps', _json(lambda r: api.sweeps(store))),
        Route('/api/sweeps/{sweep_id}', _json(lambda r: api.sweep(
            store, r.path_params['sweep_id'], q(r, 'metric')))),
    ]
    return Guard(Starlette(routes=routes), token, loopback)


def serve(app, sock):
    """Serve ``app`` on the bound socket until Ctrl-C."""
    import uvicorn
    config = uvicorn.Config(app, log_level='warning', access_log=False, lifespan='off')
    uvicorn.Server(config).run(sockets=[sock])
