"""Every app-scoped object, behind a typed key. Set in `create_app`, read by handlers."""

from __future__ import annotations

from aiohttp import ClientSession, web

from cache import ReadThroughCache
from metrics.registry import Metrics
from service.auth.principal import Principal
from service.auth.tokens import TokenVerifier
from service.catalog.audit import AuditLog
from service.catalog.favourites import Favourites
from service.catalog.grants import AdminGrants
from service.catalog.profiles import Profiles
from service.catalog.reads import Reads
from service.catalog.writes import Writes
from service.config import Settings
from service.runtime.health import Drain, Probe, Readiness
from service.runtime.tracing import Tracing
from service.store.stores import Stores
from service.store.table import Table
from service.streams.consumer import StreamConsumer
from service.streams.ledger import LocalLedger, RedisLedger

SETTINGS = web.AppKey("settings", Settings)
METRICS = web.AppKey("metrics", Metrics)
HTTP_SESSION = web.AppKey("http_session", ClientSession)
STORES = web.AppKey("stores", Stores)
TABLE = web.AppKey("table", Table)
CACHE = web.AppKey("cache", ReadThroughCache)
VERIFIER = web.AppKey("verifier", TokenVerifier)
READS = web.AppKey("reads", Reads)
WRITES = web.AppKey("writes", Writes)
PROFILES = web.AppKey("profiles", Profiles)
FAVOURITES = web.AppKey("favourites", Favourites)
ADMIN_GRANTS = web.AppKey("admin_grants", AdminGrants)
AUDIT_LOG = web.AppKey("audit_log", AuditLog)
READINESS = web.AppKey("readiness", Readiness)
# Set only while stream invalidation runs (settings.stream_invalidation_enabled).
STREAM_CONSUMER = web.AppKey("stream_consumer", StreamConsumer)
# Set only while stream invalidation is configured: the changes the API has invalidated.
LEDGER: web.AppKey[LocalLedger | RedisLedger] = web.AppKey("ledger")
# Set only while tracing is on (settings.tracing; service.runtime.tracing).
TRACING = web.AppKey("tracing", Tracing)
# Set only in the migration phases that use the legacy Postgres (service.transition).
LEGACY_PROBE: web.AppKey[Probe] = web.AppKey("legacy_probe")

# The Cache-Control (from settings) and Vary (from the CORS policy: service.api.responses.
# public_vary) of every public read: built once, read per request, in one lookup.
PUBLIC_HEADERS: web.AppKey[tuple[str, str]] = web.AppKey("public_headers")
# Set when SIGTERM starts the drain (service.server); read by the endpoint wrapper.
DRAIN = web.AppKey("drain", Drain)

# Set by the endpoint wrapper of every route whose declared auth is user or admin.
PRINCIPAL = web.RequestKey("principal", Principal)
OPENAPI = web.AppKey("openapi", bytes)
