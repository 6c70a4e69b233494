"""Operations: liveness, readiness, metrics, the OpenAPI document."""

from __future__ import annotations

from aiohttp import web

from metrics.registry import render, scrape_registry
from service.api.problems import problem
from service.runtime.appkeys import METRICS, OPENAPI, READINESS, SETTINGS


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"}, headers={"Cache-Control": "no-store"})


async def readyz(request: web.Request) -> web.Response:
    readiness = request.app[READINESS]
    if readiness.draining:
        return problem(503, "Service Unavailable", "shutting down", headers={"Retry-After": "1"})
    checks = await readiness.check()
    if not all(checks.values()):
        down = ", ".join(sorted(name for name, ok in checks.items() if not ok))
        return problem(
            503, "Service Unavailable", f"unreachable: {down}", headers={"Retry-After": "1"}
        )
    return web.json_response(
        {"status": "ready", "checks": checks}, headers={"Cache-Control": "no-store"}
    )


async def metrics(request: web.Request) -> web.Response:
    own = request.app[METRICS]
    # This worker's counts are current; other workers' are at most one flush interval old.
    own.tallies.flush()
    registry = scrape_registry(request.app[SETTINGS].metrics_multiproc_dir, own.registry)
    body, content_type = render(registry)
    response = web.Response(body=body, headers={"Cache-Control": "no-store"})
    response.headers["Content-Type"] = content_type
    return response


async def openapi(request: web.Request) -> web.Response:
    return web.Response(body=request.app[OPENAPI], content_type="application/json")
