"""Dev mode's example browser client (clients/web), served on an origin of its own.

The page lives on another port than the API, so every call it makes is cross-origin, as the
web app's are in production: the API's CORS answers it (dev mode allows this origin), and it
signs in against the dev Cognito pool straight from the browser. `config.json` tells the page
where the API and the pool are. Only the page's own files are served, never the rest of
clients/web (its node_modules, its package files).
"""

from __future__ import annotations

import errno
import json
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from service.config import Settings
from service.dev.clienttypes import CLIENT_DIR

# name -> Content-Type; a module script must be served as JavaScript.
FILES = {
    "index.html": "text/html",
    "app.js": "text/javascript",
    "api.js": "text/javascript",
    "style.css": "text/css",
}
DEFAULT_PORT = 8081
AppFactory = Callable[[Settings], web.Application]


@dataclass(frozen=True, slots=True)
class PoolRef:
    endpoint: str
    region: str
    client_id: str


def bind_example(host: str, port: int) -> socket.socket:
    """A listening socket on `port`, or on a free port when that one is taken."""
    for candidate in (port, 0) if port else (0,):
        sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, candidate))
        except OSError as exc:
            sock.close()
            if exc.errno != errno.EADDRINUSE or candidate == 0:
                raise
            continue
        sock.listen(128)
        return sock
    raise AssertionError("unreachable: binding port 0 either succeeds or raises")


def origins(host: str, port: int) -> tuple[str, ...]:
    """The origins a browser may give the page: loopback is reached by name or by address."""
    names = {host, "localhost", "127.0.0.1"} if host in ("127.0.0.1", "localhost") else {host}
    return tuple(sorted(f"http://{name}:{port}" for name in names))


def example_app(*, api_port: int, pool: PoolRef, root: Path = CLIENT_DIR) -> web.Application:
    async def page_file(request: web.Request) -> web.StreamResponse:
        name = request.match_info.get("name") or "index.html"
        content_type = FILES.get(name)
        if content_type is None:
            raise web.HTTPNotFound()
        return web.Response(
            body=(root / name).read_bytes(),
            content_type=content_type,
            headers={"Cache-Control": "no-store"},
        )

    async def config(request: web.Request) -> web.Response:
        # The API on the same host name the page was reached by: localhost and 127.0.0.1
        # are different origins, and the page's calls must come from an allowed one.
        host = request.url.host or "127.0.0.1"
        body = {
            "apiBase": f"http://{host}:{api_port}",
            "cognito": {
                "endpoint": pool.endpoint,
                "region": pool.region,
                "clientId": pool.client_id,
            },
        }
        return web.json_response(body, headers={"Cache-Control": "no-store"})

    app = web.Application()
    app.router.add_get("/config.json", config)
    app.router.add_get("/", page_file)
    app.router.add_get("/{name}", page_file)
    return app


def with_example(factory: AppFactory, example: web.Application, sock: socket.socket) -> AppFactory:
    """`factory`'s app, which also serves `example` on `sock` for as long as it runs."""

    async def serving(_: web.Application) -> AsyncIterator[None]:
        runner = web.AppRunner(example, handle_signals=False, access_log=None)
        await runner.setup()
        await web.SockSite(runner, sock).start()
        try:
            yield
        finally:
            await runner.cleanup()

    def build(settings: Settings) -> web.Application:
        app = factory(settings)
        app.cleanup_ctx.append(serving)
        return app

    return build


def pool_ref(state_json: str) -> PoolRef:
    """Where the page signs in, from dev mode's state file."""
    state = json.loads(state_json)
    return PoolRef(state["endpoint"], state["region"], state["client_id"])


def page_available(root: Path = CLIENT_DIR) -> bool:
    """Whether the page's files are there (a checkout has them; an installed package not)."""
    return all((root / name).is_file() for name in FILES)


def attach(
    settings: Settings, factory: AppFactory, *, api_port: int, port: int, state_json: str
) -> tuple[Settings, AppFactory, str | None]:
    """Dev mode with the example page on `port` (a free one when taken or 0): settings that
    allow its origins, a factory whose app serves it, and its URL; unchanged and None when
    the page's files are not there."""
    if not page_available():
        return settings, factory, None
    sock = bind_example(settings.host, port)
    bound = sock.getsockname()[1]
    allowed = (*settings.cors_allowed_origins, *origins(settings.host, bound))
    settings = settings.model_copy(update={"cors_allowed_origins": allowed})
    example = example_app(api_port=api_port, pool=pool_ref(state_json))
    return settings, with_example(factory, example, sock), f"http://{settings.host}:{bound}/"
