"""The composition root: `create_app(settings)` builds everything the service runs on."""

from __future__ import annotations

from aiohttp import web
from prometheus_client import CollectorRegistry

from metrics.registry import Metrics
from service.api.accesslog import AccessLog
from service.api.cors import cors_policy
from service.api.openapi import render as render_openapi
from service.api.responses import public_cache_control, public_vary
from service.api.routes import ROUTES, add_routes
from service.config import Settings
from service.runtime import tracing as tracing_setup
from service.runtime.appkeys import (
    DRAIN,
    METRICS,
    OPENAPI,
    PUBLIC_HEADERS,
    SETTINGS,
    TRACING,
)
from service.runtime.health import Drain
from service.runtime.lifecycle import (
    cache_ctx,
    dynamodb_ctx,
    http_session_ctx,
    ledger_ctx,
    metrics_ctx,
    migration_ctx,
    streams_ctx,
    tracing_ctx,
    use_cases_ctx,
)


def create_app(settings: Settings, *, registry: CollectorRegistry | None = None) -> web.Application:
    """An app wired to the resources `settings` names; they open when the app starts.

    `registry` lets a test or a worker process own its metrics; by default the app owns a
    fresh one (never prometheus_client's global registry).
    """
    metrics = Metrics(registry if registry is not None else CollectorRegistry(auto_describe=True))
    # No middlewares: metrics, deadlines and error translation wrap each handler once, as
    # the routes are added (service.api.endpoint says why).
    app = web.Application(client_max_size=settings.max_body_bytes)
    app[SETTINGS] = settings
    app[METRICS] = metrics
    app[OPENAPI] = render_openapi(ROUTES)
    cors = cors_policy(settings, rejected=metrics.http.cors_refused)
    app[PUBLIC_HEADERS] = (
        public_cache_control(settings.cache_http_max_age_s),
        public_vary(origin=cors.varies(public=True)),
    )
    drain = app[DRAIN] = Drain()
    tracing = tracing_setup.build(settings)
    if tracing is not None:
        app[TRACING] = tracing
    add_routes(
        app,
        ROUTES,
        metrics=metrics.http,
        deadline_s=settings.request_timeout_s,
        cors=cors,
        drain=drain,
        access=AccessLog.from_settings(settings),
        tracing=tracing,
    )
    app.cleanup_ctx.extend(
        [
            metrics_ctx,
            tracing_ctx,
            http_session_ctx,
            dynamodb_ctx,
            cache_ctx,
            ledger_ctx,
            migration_ctx,
            use_cases_ctx,
            streams_ctx,
        ]
    )
    return app
