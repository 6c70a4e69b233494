"""Cleanup contexts: each opens one long-lived resource with `async with`, publishes it under
its app key, and closes it on shutdown. Registered in dependency order by `create_app`."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web

from cache import cancel_and_wait
from metrics.tally import run_flusher
from service.auth.jwks import JwksCache
from service.auth.tokens import TokenVerifier
from service.catalog.audit import AuditLog
from service.catalog.favourites import Favourites
from service.catalog.grants import AdminGrants
from service.catalog.profiles import Profiles
from service.catalog.reads import Reads
from service.catalog.writes import Writes
from service.runtime.appkeys import (
    ADMIN_GRANTS,
    AUDIT_LOG,
    CACHE,
    DRAIN,
    FAVOURITES,
    HTTP_SESSION,
    LEDGER,
    LEGACY_PROBE,
    METRICS,
    PROFILES,
    READINESS,
    READS,
    SETTINGS,
    STORES,
    STREAM_CONSUMER,
    TABLE,
    TRACING,
    VERIFIER,
    WRITES,
)
from service.runtime.cachebuild import open_cache
from service.runtime.health import Probe, Readiness
from service.runtime.tracing import exporting
from service.store.client import dynamodb_client, dynamodb_streams_client
from service.store.cursor import CursorCodec
from service.store.cutoffs import TableCutOffNotices
from service.store.keys import GSI1
from service.store.rules import ItemRules
from service.store.stores import build_stores
from service.store.table import Table
from service.streams.consumer import StreamConsumer
from service.streams.ledger import LocalLedger, redis_ledger


async def metrics_ctx(app: web.Application) -> AsyncIterator[None]:
    # First in, last out: the flusher outlives every other resource, so what they record
    # while closing is flushed too.
    flusher = asyncio.create_task(run_flusher(app[METRICS].tallies), name="metrics-flusher")
    yield
    await cancel_and_wait([flusher], within=5.0)


async def tracing_ctx(app: web.Application) -> AsyncIterator[None]:
    # Second in, second to last out: spans of every other resource's start and close are
    # exported, and the last batch is flushed once they have all closed.
    tracing = app.get(TRACING)
    if tracing is None:
        yield
        return
    async with exporting(tracing, app[SETTINGS]):
        yield


async def http_session_ctx(app: web.Application) -> AsyncIterator[None]:
    # One session for the JWKS fetches; its own short timeouts live in JwksCache.
    async with aiohttp.ClientSession(raise_for_status=False) as session:
        app[HTTP_SESSION] = session
        yield


async def dynamodb_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    async with dynamodb_client(settings) as client:
        tracing = app.get(TRACING)
        table = Table.from_settings(
            client,
            settings,
            observer=app[METRICS].dynamodb,
            tracer=None if tracing is None else tracing.tracer,
        )
        app[METRICS].dynamodb.declare_table(table.name, (GSI1,))
        cursors = CursorCodec(settings.cursor_secret.get_secret_value().encode())
        app[STORES] = build_stores(table, cursors, rules=ItemRules.from_settings(settings))
        app[TABLE] = table
        yield


async def cache_ctx(app: web.Application) -> AsyncIterator[None]:
    notices = TableCutOffNotices(app[TABLE])
    async with open_cache(app[SETTINGS], observer=app[METRICS].cache, notices=notices) as cache:
        app[CACHE] = cache
        yield


async def ledger_ctx(app: web.Application) -> AsyncIterator[None]:
    """The ledger of changes the API has invalidated, while some process reads the stream:
    in Redis (every instance's consumer reads it) or, without Redis, in this process."""
    settings = app[SETTINGS]
    if not settings.stream_invalidation_configured:
        yield
        return
    if not settings.redis_url:
        app[LEDGER] = LocalLedger(region=settings.aws_region, ttl_s=settings.stream_handled_ttl_s)
        yield
        return
    async with redis_ledger(settings) as ledger:
        app[LEDGER] = ledger
        yield


async def migration_ctx(app: web.Application) -> AsyncIterator[None]:
    """The Supabase migration's phase (service.transition): in dual-write and dual-read,
    the legacy Postgres pool, the phase's repositories in place of the DynamoDB ones for
    categories, listings, users and favourites, and the outbox reconciler. In dynamodb-only,
    nothing: no Postgres connection is opened and asyncpg is not even imported."""
    settings = app[SETTINGS]
    if not settings.uses_legacy:
        yield
        return
    # Imported here: asyncpg is the `migrate` extra, needed only by these phases.
    from service.transition import legacy_phase

    async with legacy_phase(
        settings,
        app[STORES],
        app[TABLE],
        observer=app[METRICS].migration,
        invalidate=app[CACHE].invalidate,
    ) as phase:
        app[STORES] = phase.stores
        app[LEGACY_PROBE] = phase.postgres_reachable
        yield


async def use_cases_ctx(app: web.Application) -> AsyncIterator[None]:
    settings, stores, cache = app[SETTINGS], app[STORES], app[CACHE]
    app[READS] = Reads(
        stores,
        cache,
        negative_ttl=settings.cache_negative_ttl_s,
        deadline_s=settings.request_timeout_s,
    )
    app[WRITES] = Writes(stores, cache, ledger=app.get(LEDGER))
    app[PROFILES] = Profiles(stores.users)
    app[FAVOURITES] = Favourites(stores.favourites)
    app[ADMIN_GRANTS] = AdminGrants(stores.users)
    app[AUDIT_LOG] = AuditLog(stores.audit)
    jwks = JwksCache(
        app[HTTP_SESSION],
        settings.jwks_url,
        ttl_s=settings.jwks_ttl_s,
        min_refresh_interval_s=settings.jwks_min_refresh_interval_s,
        observer=app[METRICS].auth,
        # moto's fixed signing key is trusted only where moto is the identity provider.
        allow_dev_keys=settings.mode != "production",
    )
    app[VERIFIER] = TokenVerifier(
        jwks,
        issuer=settings.cognito_issuer,
        client_ids=settings.cognito_app_client_ids,
        leeway=settings.jwt_leeway_s,
        observer=app[METRICS].auth,
    )
    table = app[TABLE]

    async def dynamodb_reachable() -> bool:
        await table.call("DescribeTable", TableName=table.name)
        return True

    async def redis_reachable() -> bool:
        # The invalidation listener pings Redis every second, so its state is a live probe
        # that costs readiness checks nothing.
        health = cache.health()
        return health.redis_ok and health.channel_connected

    probes: dict[str, Probe] = {"dynamodb": dynamodb_reachable}
    if settings.redis_url:
        probes["redis"] = redis_reachable
    if LEGACY_PROBE in app:
        probes["postgres"] = app[LEGACY_PROBE]

    def memory_can_serve() -> bool:
        # The in-process layer is served only under a lease (cache.lease).
        health = cache.health()
        return health.memory_entries > 0 and health.lease_valid

    app[READINESS] = Readiness(probes=probes, memory_can_serve=memory_can_serve, drain=app[DRAIN])
    yield


async def streams_ctx(app: web.Application) -> AsyncIterator[None]:
    """Invalidation from the table's stream, when enabled: one stream client and one consumer
    per process (README: "Changes made outside the API")."""
    settings = app[SETTINGS]
    if not settings.stream_invalidation_enabled:
        yield
        return
    table, cache, tracing = app[TABLE], app[CACHE], app.get(TRACING)

    async def stream_arn() -> str | None:
        described = await table.call("DescribeTable", TableName=table.name)
        arn = described["Table"].get("LatestStreamArn")
        return None if arn is None else str(arn)

    async with dynamodb_streams_client(settings) as client:
        consumer = StreamConsumer(
            client,
            stream_arn=stream_arn,
            invalidate=cache.invalidate,
            observer=app[METRICS].streams,
            start_at="LATEST" if settings.stream_start_at == "latest" else "TRIM_HORIZON",
            poll_interval_s=settings.stream_poll_interval_s,
            refresh_interval_s=settings.stream_refresh_interval_s,
            retry_base_s=settings.stream_retry_base_s,
            retry_cap_s=settings.stream_retry_cap_s,
            ledger=app.get(LEDGER),
            region=settings.aws_region,
            grace_s=settings.stream_handled_grace_s,
            tracer=tracing.tracer if tracing is not None else None,
        )
        # Bounded: an unreadable stream must not keep the service from starting; the
        # consumer keeps trying in the background and counts each failure.
        await consumer.start(within=settings.dynamodb_call_deadline_s)
        app[STREAM_CONSUMER] = consumer
        try:
            yield
        finally:
            await consumer.stop()
