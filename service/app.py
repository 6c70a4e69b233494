"""The composition root: `create_app(settings)` builds everything the service runs on."""

from __future__ import annotations

from aiohttp import web
from prometheus_client import CollectorRegistry

from metrics.http import http_metrics_middleware
from metrics.registry import Metrics
from service.api.middlewares import deadline_middleware, error_middleware
from service.api.openapi import render as render_openapi
from service.api.routes import ROUTES, add_routes
from service.appkeys import METRICS, OPENAPI, SETTINGS
from service.config import Settings
from service.lifecycle import cache_ctx, dynamodb_ctx, http_session_ctx, use_cases_ctx


def create_app(settings: Settings, *, registry: CollectorRegistry | None = None) -> web.Application:
    """An app wired to the resources `settings` names; they open when the app starts.

    `registry` lets a test or a worker process own its metrics; by default the app owns a
    fresh one (never prometheus_client's global registry).
    """
    metrics = Metrics(registry if registry is not None else CollectorRegistry(auto_describe=True))
    app = web.Application(
        # Outermost first: metrics see the final status, errors become problem+json, and the
        # deadline wraps the handler alone.
        middlewares=[
            http_metrics_middleware(metrics),
            error_middleware,
            deadline_middleware(
                settings.request_timeout_s,
                own_deadline=frozenset(r.handler for r in ROUTES if r.cached),
            ),
        ],
        client_max_size=settings.max_body_bytes,
    )
    app[SETTINGS] = settings
    app[METRICS] = metrics
    app[OPENAPI] = render_openapi(ROUTES)
    add_routes(app)
    app.cleanup_ctx.extend([http_session_ctx, dynamodb_ctx, cache_ctx, use_cases_ctx])
    return app
