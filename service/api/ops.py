"""Operations: liveness, readiness, metrics, the OpenAPI document."""

from __future__ import annotations

from aiohttp import web

from metrics.registry import render, scrape_registry
from service.api.problems import problem
from service.runtime.appkeys import METRICS, OPENAPI, READINESS, SETTINGS, TRACING


async def healthz(request: web.Request) -> web.Response:
    # Liveness: the process runs its event loop. What the container HEALTHCHECK and the load
    # balancer ask; a dependency's outage must not get a healthy instance replaced.
    return web.json_response({"status": "ok"}, headers={"Cache-Control": "no-store"})


async def readyz(request: web.Request) -> web.Response:
    # Readiness, for start-up and drain (service.runtime.health says what counts).
    readiness = request.app[READINESS]
    if readiness.draining:
        return problem(503, "Service Unavailable", "shutting down", headers={"Retry-After": "1"})
    checks = await readiness.check()
    if not readiness.serviceable(checks):
        down = ", ".join(sorted(name for name, ok in checks.items() if not ok))
        return problem(
            503,
            "Service Unavailable",
            f"unreachable, and nothing cached to serve: {down}",
            headers={"Retry-After": "1"},
        )
    status = "ready" if all(checks.values()) else "degraded"
    return web.json_response(
        {"status": status, "checks": checks}, headers={"Cache-Control": "no-store"}
    )


async def metrics(request: web.Request) -> web.Response:
    own = request.app[METRICS]
    # This worker's counts are current; other workers' are at most one flush interval old.
    own.tallies.flush()
    settings = request.app[SETTINGS]
    registry = scrape_registry(settings.metrics_multiproc_dir, own.registry)
    # OpenMetrics only where there are exemplars to carry: it takes about 1.6x as long to
    # render, on the event loop that serves the reads.
    tracing = request.app.get(TRACING)
    exemplars = tracing is not None and tracing.exemplars
    body, content_type = render(
        registry,
        created=settings.metrics_created_series,
        accept=request.headers.get("Accept", "") if exemplars else "",
    )
    response = web.Response(body=body, headers={"Cache-Control": "no-store"})
    response.headers["Content-Type"] = content_type
    return response


async def openapi(request: web.Request) -> web.Response:
    return web.Response(body=request.app[OPENAPI], content_type="application/json")
