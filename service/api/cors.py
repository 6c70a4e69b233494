"""CORS: which browser origins may call the API, answered per route from the route table.

A web app on another origin calls the `/v1` routes; the operational ones (`/metrics`,
`/healthz`, `/readyz`, `/openapi.json`) have no CORS and a browser on another origin cannot
read them. Origins are matched exactly against HUSTLEHUB_CORS_ALLOWED_ORIGINS and echoed, with
`Vary: Origin`, so a shared cache never hands one origin's answer to another. With
HUSTLEHUB_CORS_PUBLIC_ANY_ORIGIN the public reads say `*` to every caller instead (the same
answer for all, so no Vary); a route that takes a token never does. Tokens travel in the
Authorization header, never in cookies, so no route allows credentials.

A preflight (OPTIONS with Access-Control-Request-Method) is answered here, from the route
table alone: it never reaches a handler, the cache or DynamoDB. It lists every method and
request header the path takes, with a max-age. A request or preflight from an origin that is
not allowed gets no CORS headers (a refused preflight is a 403) and is counted.

Not aiohttp-cors: it sets no `Vary: Origin` (aio-libs/aiohttp-cors#351, open since 2021),
which is wrong for `Cache-Control: public` answers behind a CDN; it runs an
`on_response_prepare` receiver on every response, the cached hot path included (measured:
about 8 µs a response with no Origin, against the hot path's few µs of our own code; see
docs/frontend.md); its refusals are plain-text 403s raised outside the endpoint wrapper, with
no place to count them; and its preflight names only the method asked for.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal, Protocol

from aiohttp import hdrs, web

from service.api.endpoint import Handler
from service.api.prepared import Prepared
from service.api.problems import problem
from service.config import Settings

# What a page may read of an answer beyond the CORS-safelisted headers.
EXPOSED = ("ETag", "X-Cache", "X-Request-Id", "Retry-After", "Age", "WWW-Authenticate")
_EXPOSED = ", ".join(EXPOSED)
_ORIGIN = "Origin"

Rejected = Callable[[Literal["preflight", "request"]], None]
Decorate = Callable[[web.Request, web.StreamResponse], None]


def browser_route(path: str) -> bool:
    """Whether a page on another origin may call `path` (when its origin is allowed)."""
    return path.startswith("/v1/")


@dataclass(frozen=True, slots=True)
class PathCors:
    """What one path takes: its methods and the request headers a page may set on them."""

    path: str
    methods: tuple[str, ...]
    headers: tuple[str, ...]
    public: bool  # every method on the path is public


@dataclass(frozen=True, slots=True)
class CorsPolicy:
    origins: frozenset[str]
    public_any_origin: bool
    max_age_s: int
    rejected: Rejected

    def varies(self, *, public: bool) -> bool:
        """Whether a route's answers depend on the caller's Origin (and so say Vary: Origin)."""
        return bool(self.origins) and not (public and self.public_any_origin)

    def decorator(self, *, public: bool) -> Decorate:
        """Adds the CORS headers to a route's every answer (errors included: a page must be
        able to read a 503 and its Retry-After)."""
        if public and self.public_any_origin:
            return _any_origin
        origins, rejected = self.origins, self.rejected
        vary = self.varies(public=public)  # with no origin allowed, none depends on Origin

        def exact(request: web.Request, response: web.StreamResponse) -> None:
            # A prepared answer's head already says Vary: Origin (responses.public_vary), and
            # its headers are made only when a field is set, so none is read before it is.
            if vary and not isinstance(response, Prepared):
                headers = response.headers
                present = headers.get(hdrs.VARY)
                headers[hdrs.VARY] = f"{present}, {_ORIGIN}" if present else _ORIGIN
            origin = request.headers.get(hdrs.ORIGIN)
            if origin is None:
                return
            if origin in origins:
                headers = response.headers
                headers[hdrs.ACCESS_CONTROL_ALLOW_ORIGIN] = origin
                headers[hdrs.ACCESS_CONTROL_EXPOSE_HEADERS] = _EXPOSED
            else:
                rejected("request")

        return exact

    def preflight(self, path: PathCors) -> Handler:
        """The OPTIONS handler of `path` (to run inside its endpoint wrapper, for metrics)."""
        any_origin = path.public and self.public_any_origin
        allowed = {
            hdrs.ACCESS_CONTROL_ALLOW_METHODS: ", ".join(path.methods),
            hdrs.ACCESS_CONTROL_ALLOW_HEADERS: ", ".join(path.headers),
            hdrs.ACCESS_CONTROL_MAX_AGE: str(self.max_age_s),
        }
        if not any_origin:
            allowed[hdrs.VARY] = _ORIGIN
        plain = {hdrs.ALLOW: ", ".join((*path.methods, "OPTIONS"))}
        origins, rejected = self.origins, self.rejected

        async def handle(request: web.Request) -> web.StreamResponse:
            origin = request.headers.get(hdrs.ORIGIN)
            if origin is None or hdrs.ACCESS_CONTROL_REQUEST_METHOD not in request.headers:
                return web.Response(status=204, headers=plain)  # OPTIONS, not a preflight
            if any_origin:
                return web.Response(
                    status=204, headers={**allowed, hdrs.ACCESS_CONTROL_ALLOW_ORIGIN: "*"}
                )
            if origin in origins:
                return web.Response(
                    status=204, headers={**allowed, hdrs.ACCESS_CONTROL_ALLOW_ORIGIN: origin}
                )
            rejected("preflight")
            return problem(
                403,
                "Forbidden",
                "this origin may not call the API from a browser",
                headers={hdrs.VARY: _ORIGIN},
            )

        return handle


def cors_policy(settings: Settings, *, rejected: Rejected) -> CorsPolicy:
    return CorsPolicy(
        origins=frozenset(settings.cors_allowed_origins),
        public_any_origin=settings.cors_public_any_origin,
        max_age_s=settings.cors_max_age_s,
        rejected=rejected,
    )


def _any_origin(request: web.Request, response: web.StreamResponse) -> None:
    headers = response.headers
    headers[hdrs.ACCESS_CONTROL_ALLOW_ORIGIN] = "*"
    headers[hdrs.ACCESS_CONTROL_EXPOSE_HEADERS] = _EXPOSED


class RouteShape(Protocol):
    """What CORS reads of a route of the table (service.api.routes.Route)."""

    @property
    def method(self) -> str: ...
    @property
    def auth(self) -> str: ...
    @property
    def body(self) -> object: ...
    @property
    def conditional(self) -> bool: ...


def path_cors(path: str, routes: Iterable[RouteShape]) -> PathCors:
    """A path's methods and the request headers they take, from its routes: GET answers HEAD
    too and takes If-None-Match; a route with a token takes Authorization, one with a body
    Content-Type, a conditional write If-Match."""
    methods: list[str] = []
    headers: list[str] = []

    def take(name: str, wanted: bool) -> None:
        if wanted and name not in headers:
            headers.append(name)

    for route in routes:
        methods += ["GET", "HEAD"] if route.method == "GET" else [route.method]
        take("If-None-Match", route.method == "GET")
        take("Authorization", route.auth != "public")
        take("Content-Type", route.body is not None)
        take("If-Match", route.conditional)
    public = "Authorization" not in headers
    return PathCors(path, tuple(methods), tuple(headers), public)
