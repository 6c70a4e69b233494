"""Settings: read once from the environment (prefix HUSTLEHUB_), frozen, passed down.

Every field's `description` is what docs/configuration.md says about it (generated). A nested
block is read from `HUSTLEHUB_<BLOCK>__<FIELD>`: the migration's run-time settings are
`HUSTLEHUB_MIGRATION__PHASE`, `HUSTLEHUB_MIGRATION__LEGACY_DSN`, ...
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

Mode = Literal["production", "dev", "test"]
StreamStart = Literal["latest", "trim_horizon"]
# The Supabase migration's three phases (service/transition): which store is read and
# written. dynamodb-only is the service as it runs after the migration, and the default.
MigrationPhase = Literal["dual-write", "dual-read", "dynamodb-only"]
LogLevel = Literal["debug", "info", "warning", "error"]
LogFormat = Literal["json", "console"]
AccessLogMode = Literal["off", "errors", "all"]

# A development-only HMAC key; production refuses to start with it (see the validator).
_DEV_CURSOR_SECRET = "dev-only-cursor-secret-change-me"  # noqa: S105

# The flat names the migration block replaced. One left in an environment would be ignored
# (extra="ignore"), and a service meant to dual-write would quietly run dynamodb-only while
# Postgres stays the truth: refused instead, naming the new variable.
_RENAMED = {
    f"HUSTLEHUB_{old}": f"HUSTLEHUB_MIGRATION__{new}"
    for old, new in {
        "MIGRATION_PHASE": "PHASE",
        "LEGACY_DSN": "LEGACY_DSN",
        "LEGACY_POOL_MAX_SIZE": "LEGACY_POOL_MAX_SIZE",
        "LEGACY_COMMAND_TIMEOUT_S": "LEGACY_COMMAND_TIMEOUT_S",
        "MIGRATION_RECONCILE_INTERVAL_S": "RECONCILE_INTERVAL_S",
        "MIGRATION_RETRY_BASE_S": "RETRY_BASE_S",
        "MIGRATION_RETRY_CAP_S": "RETRY_CAP_S",
        "MIGRATION_MAX_ATTEMPTS": "MAX_ATTEMPTS",
        "MIGRATION_PUSH_TIMEOUT_S": "PUSH_TIMEOUT_S",
        "MIGRATION_SHADOW_TIMEOUT_S": "SHADOW_TIMEOUT_S",
    }.items()
}


class MigrationSettings(BaseModel):
    """The Supabase migration's run-time settings (service.transition), read from
    `HUSTLEHUB_MIGRATION__<FIELD>`. Only the two legacy phases use them."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    phase: MigrationPhase = Field(
        default="dynamodb-only",
        description="Which store is read and written: dual-write and dual-read keep the legacy"
        " Postgres as the truth, dynamodb-only is the service after the migration.",
    )
    # Ignored, never opened, in dynamodb-only.
    legacy_dsn: SecretStr | None = Field(
        default=None,
        description="The legacy Postgres the dual-write and dual-read phases read and write"
        " (required in those phases).",
    )
    legacy_pool_max_size: int = Field(
        default=10,
        ge=3,
        le=100,
        description="Connections at most in each process's pool to the legacy Postgres.",
    )
    legacy_command_timeout_s: float = Field(
        default=2.0,
        gt=0,
        description="Seconds one legacy Postgres statement, or one connection attempt, may take.",
    )
    reconcile_interval_s: float = Field(
        default=1.0,
        gt=0,
        description="Seconds between the background reconciler's rounds over the outbox.",
    )
    retry_base_s: float = Field(
        default=0.5,
        gt=0,
        description="First backoff, in seconds, of an outbox entry DynamoDB did not take.",
    )
    retry_cap_s: float = Field(
        default=60.0, gt=0, description="Longest backoff, in seconds, between an entry's retries."
    )
    max_attempts: int = Field(
        default=8,
        ge=1,
        le=100,
        description="Attempts at applying an outbox entry before it becomes a dead letter.",
    )
    # The write has committed to Postgres either way; this bounds what the client waits.
    push_timeout_s: float = Field(
        default=1.0,
        gt=0,
        description="Seconds a dual-write spends applying its own changes to DynamoDB before"
        " leaving the rest to the reconciler.",
    )
    shadow_timeout_s: float = Field(
        default=0.25,
        gt=0,
        description="Seconds a dual-read waits, once DynamoDB has answered, for Postgres's"
        " answer to compare with.",
    )

    @model_validator(mode="after")
    def _legacy_phases_need_postgres(self) -> Self:
        if self.phase != "dynamodb-only" and not self.legacy_dsn:
            raise ValueError(
                f"HUSTLEHUB_MIGRATION__LEGACY_DSN must be set in migration phase {self.phase}"
            )
        return self

    @property
    def uses_legacy(self) -> bool:
        """Whether this phase reads or writes the legacy Postgres at all."""
        return self.phase != "dynamodb-only"


class _RenamedVariables(PydanticBaseSettingsSource):
    """Contributes nothing; refuses an environment that still holds a renamed variable."""

    def __init__(self, settings_cls: type[BaseSettings], env: EnvSettingsSource) -> None:
        super().__init__(settings_cls)
        self._env = env

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        present = {name.upper() for name in self._env.env_vars} & _RENAMED.keys()
        if present:
            renames = ", ".join(f"{old} is now {_RENAMED[old]}" for old in sorted(present))
            raise SettingsError(f"renamed settings: {renames}")
        return {}


def _problem(field: str, message: str) -> InitErrorDetails:
    # No input value: an error about a secret must not carry the secret.
    return InitErrorDetails(
        type=PydanticCustomError("production", message), loc=(field,), input=None
    )


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="HUSTLEHUB_", env_nested_delimiter="__", frozen=True, extra="ignore"
    )

    mode: Mode = Field(
        default="production",
        description="How strict start-up is: production refuses the development defaults, dev"
        " and test accept them and trust local emulators.",
    )
    host: str = Field(default="127.0.0.1", description="Address `serve` listens on.")
    port: int = Field(
        default=8080, ge=0, le=65535, description="Port `serve` listens on (0: any free port)."
    )
    workers: int = Field(
        default=1,
        ge=1,
        le=64,
        description="Worker processes `serve` runs on the one port (more than 1: metrics in"
        " multiprocess mode).",
    )

    aws_region: str = Field(default="us-east-1", description="AWS region of the DynamoDB table.")
    dynamodb_endpoint: str | None = Field(
        default=None,
        description="DynamoDB endpoint URL, for a DynamoDB-compatible server; unset means AWS.",
    )
    table_name: str = Field(
        default="HustleHubDirectory", description="The single DynamoDB table the service uses."
    )
    # botocore's own socket timeouts are 60 s; these bound one attempt and the whole call.
    dynamodb_connect_timeout_s: float = Field(
        default=1.0, gt=0, description="Seconds one attempt may take to connect to DynamoDB."
    )
    dynamodb_read_timeout_s: float = Field(
        default=2.0, gt=0, description="Seconds one attempt may wait for DynamoDB's response."
    )
    dynamodb_call_deadline_s: float = Field(
        default=3.0,
        gt=0,
        description="Seconds one DynamoDB call may take in all, its retries included.",
    )
    dynamodb_retry_base_s: float = Field(
        default=0.025,
        gt=0,
        description="First backoff, in seconds, before retrying a throttled or failed call.",
    )
    dynamodb_retry_cap_s: float = Field(
        default=0.5, gt=0, description="Longest backoff, in seconds, between DynamoDB retries."
    )
    dynamodb_max_pool_connections: int = Field(
        default=64, ge=1, description="HTTP connections at most from one process to DynamoDB."
    )

    redis_url: str | None = Field(
        default="redis://127.0.0.1:6379/0",
        description="Redis for the shared cache layer and cross-instance invalidation; unset"
        " means the in-process layer only.",
    )
    redis_timeout_s: float = Field(
        default=0.05,
        gt=0,
        description="Seconds one Redis call may take before the cache fails open past it.",
    )
    redis_prefix: str = Field(
        default="hh", description="Prefix of every Redis key and channel the cache uses."
    )
    # Cluster mode (ElastiCache cluster mode enabled): REDIS_URL names any node; entries are
    # spread over this many slot groups (cache.keyspace says why they are groups).
    redis_cluster: bool = Field(
        default=False, description="Whether Redis runs in cluster mode (REDIS_URL names a node)."
    )
    redis_cluster_groups: int = Field(
        default=16,
        ge=1,
        le=1024,
        description="Slot groups the cache spreads its entries over in cluster mode.",
    )

    cache_memory_max_bytes: int = Field(
        default=64 * 1024 * 1024,
        ge=0,
        description="Bytes at most held by each process's in-process cache layer (0 turns it off).",
    )
    cache_fresh_ttl_s: float = Field(
        default=300.0, gt=0, description="Seconds a cached entry is served as fresh."
    )
    cache_stale_window_s: float = Field(
        default=3600.0,
        ge=0,
        description="Seconds past freshness an entry may still be served while DynamoDB is"
        " unavailable.",
    )
    cache_negative_ttl_s: float = Field(
        default=30.0, gt=0, description="Seconds a 'not found' answer is cached."
    )
    cache_http_max_age_s: int = Field(
        default=5,
        ge=0,
        description="The max-age, in seconds, of the Cache-Control header on public reads.",
    )
    # Also the longest a write waits for an instance that does not acknowledge it.
    cache_lease_s: float = Field(
        default=0.05,
        gt=0,
        lt=3.0,
        description="Seconds one PONG on the invalidation channel lets a process serve its"
        " in-process layer.",
    )
    # A crashed worker makes writes wait one lease each until then.
    cache_registry_ttl_s: float = Field(
        default=5.0,
        gt=0,
        description="Seconds a registered process counts as live without refreshing its"
        " registration.",
    )

    # Writes wait one lease while a process's notice is current (cache.cutoff).
    cache_cut_off_notice_s: float = Field(
        default=10.0,
        ge=0,
        description="Seconds each notice of a process cut off from Redis is valid (renewed every"
        " fifth of it) while it serves what it read itself; 0 turns notices off.",
    )

    cognito_region: str = Field(default="us-east-1", description="AWS region of the Cognito pool.")
    cognito_user_pool_id: str = Field(
        default="us-east-1_example", description="The Cognito user pool whose tokens are accepted."
    )
    cognito_app_client_ids: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(),
        description="Comma-separated app client ids whose access tokens are accepted (required"
        " in production).",
    )
    # Never derived from a token's `iss`: a token must not choose where its keys come from.
    cognito_jwks_url: str | None = Field(
        default=None,
        description="Where the pool's signing keys are fetched; unset means the pool's own"
        " well-known URL.",
    )
    cognito_endpoint: str | None = Field(
        default=None,
        description="Cognito endpoint for `migrate`'s user lookups against an emulator; unset"
        " means AWS.",
    )
    jwks_ttl_s: float = Field(
        default=3600.0,
        gt=0,
        description="Seconds fetched signing keys are trusted before a refetch.",
    )
    jwks_min_refresh_interval_s: float = Field(
        default=10.0,
        ge=0,
        description="Seconds at least between two fetches of the signing keys, whatever the"
        " tokens say.",
    )
    jwt_leeway_s: int = Field(
        default=30,
        ge=0,
        le=30,
        description="Seconds of clock skew allowed on a token's expiry and issue times.",
    )

    cursor_secret: SecretStr = Field(
        default=SecretStr(_DEV_CURSOR_SECRET),
        description="HMAC key that signs pagination cursors (required in production).",
    )
    request_timeout_s: float = Field(
        default=10.0, gt=0, description="Seconds a request may take before it is answered 504."
    )
    max_body_bytes: int = Field(
        default=64 * 1024, ge=1024, description="Largest request body accepted, in bytes."
    )
    http_max_line_bytes: int = Field(
        default=32 * 1024,
        ge=8190,
        description="Longest HTTP request line (the URL included) accepted, in bytes.",
    )
    http_max_field_bytes: int = Field(
        default=16 * 1024, ge=8190, description="Longest HTTP header field accepted, in bytes."
    )
    shutdown_grace_s: float = Field(
        default=10.0,
        ge=0,
        description="Seconds in-flight requests get to finish once the listener has closed.",
    )

    metrics_multiproc_dir: str | None = Field(
        default=None,
        description="Directory of prometheus_client's multiprocess files with several workers;"
        " unset means a fresh temporary one.",
    )
    # Set by `serve --workers N` for each worker (0..N-1; a replacement keeps the dead one's
    # slot), not meant for the environment: work that one process per host must do runs in 0.
    worker_slot: int = Field(
        default=0, ge=0, description="This worker's slot, set by `serve --workers` (internal)."
    )

    stream_invalidation: bool | None = Field(
        default=None,
        description="Whether the table's stream invalidates the cache; unset means on in dev"
        " mode only.",
    )
    stream_start_at: StreamStart = Field(
        default="latest",
        description="Where a new stream consumer starts: latest, or trim_horizon (replay the"
        " last 24 h).",
    )
    stream_poll_interval_s: float = Field(
        default=0.25, gt=0, description="Seconds between GetRecords calls on an idle shard."
    )
    stream_refresh_interval_s: float = Field(
        default=30.0,
        gt=0,
        description="Seconds between listings of the stream's shards (and its ARN).",
    )
    stream_retry_base_s: float = Field(
        default=0.1,
        gt=0,
        description="First backoff, in seconds, after a failed stream read or invalidation.",
    )
    stream_retry_cap_s: float = Field(
        default=5.0, gt=0, description="Longest backoff, in seconds, of the stream consumer."
    )

    migration: MigrationSettings = Field(
        default_factory=MigrationSettings,
        description="The Supabase migration's run-time settings (HUSTLEHUB_MIGRATION__*).",
    )

    # A setting, not only a flag, so that its password need not appear in a process list or
    # a shell history.
    migrate_dsn: SecretStr | None = Field(
        default=None,
        description="The legacy Supabase database `hustlehub migrate` reads (`--dsn`"
        " overrides it).",
    )

    # Browsers on other origins, such as the web app (service.api.cors).
    cors_allowed_origins: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(),
        description="Comma-separated origins (scheme://host[:port], as a browser sends them)"
        " whose pages may call the /v1 routes; matched exactly, never a wildcard.",
    )
    cors_public_any_origin: bool = Field(
        default=False,
        description="Whether the public reads answer a page on any origin"
        " (Access-Control-Allow-Origin: *); routes that take a token still answer only"
        " the allowed origins.",
    )
    cors_max_age_s: int = Field(
        default=600,
        ge=0,
        le=86_400,
        description="Seconds a browser may reuse a preflight's answer (Access-Control-Max-Age;"
        " browsers cap it, Chromium at 7200).",
    )

    # Items as they grow and change (docs/table.md: schema versions, packed text, lifecycle).
    item_schema_write_version: int | None = Field(
        default=None,
        ge=1,
        le=2,
        description="Item schema version this release writes (unset: the current one); the"
        " previous one while a release that cannot read the current one still runs.",
    )
    item_compress_min_bytes: int = Field(
        default=1024,
        ge=64,
        description="Bytes (UTF-8) from which a description is stored zlib-compressed, when that"
        " is smaller.",
    )
    audit_retention_days: int = Field(
        default=730,
        ge=0,
        description="Days an audit event is kept before the table's TTL deletes it (0 keeps them"
        " forever).",
    )
    # One invalidation per change (docs/architecture.md: the stream consumer).
    stream_handled_grace_s: float = Field(
        default=0.5,
        ge=0,
        le=10,
        description="Seconds the stream consumer waits for the API's record of a change it"
        " made before invalidating that change itself.",
    )
    stream_handled_ttl_s: float = Field(
        default=60.0,
        gt=0,
        description="Seconds the API's record of a change it invalidated is kept for the stream"
        " consumer.",
    )
    # Observability (docs/observability.md): logs, the access log, tracing, metrics' extras.
    log_level: LogLevel = Field(
        default="info",
        description="The lowest level of log events written: debug, info, warning or error.",
    )
    log_format: LogFormat | None = Field(
        default=None,
        description="`json` (one object a line, for CloudWatch) or `console` (readable); unset:"
        " json in production, console in dev and test.",
    )
    access_log: AccessLogMode = Field(
        default="errors",
        description="Which requests the access log records: `off`, `errors` (4xx, 5xx, slower"
        " than HUSTLEHUB_ACCESS_LOG_SLOW_S, and the HUSTLEHUB_ACCESS_LOG_SAMPLE share of the"
        " rest) or `all`.",
    )
    access_log_slow_s: float = Field(
        default=0.1,
        gt=0,
        description="Seconds from which a request counts as slow and is logged in `errors` mode.",
    )
    access_log_sample: float = Field(
        # One line in a thousand: a line costs tens of µs to render and write, which at 1% was
        # more than an in-process hit's own code (docs/observability.md).
        default=0.001,
        ge=0,
        le=1,
        description="Share of the other requests the access log records in `errors` mode.",
    )
    metrics_created_series: bool = Field(
        default=False,
        description="Export prometheus_client's `*_created` series (each counter's and"
        " histogram's creation time) on /metrics.",
    )
    tracing: bool = Field(
        default=False,
        description="Record OpenTelemetry traces (requests, DynamoDB, Redis and Postgres calls)"
        " and export them over OTLP/HTTP.",
    )
    tracing_otlp_endpoint: str = Field(
        default="http://127.0.0.1:4318/v1/traces",
        description="The OTLP/HTTP traces URL spans are sent to (an OpenTelemetry collector,"
        " such as the ADOT sidecar that forwards to X-Ray).",
    )
    tracing_sample_ratio: float = Field(
        default=0.05,
        ge=0,
        le=1,
        description="Share of new traces recorded; a request whose caller's `traceparent` or"
        " `X-Amzn-Trace-Id` says sampled is recorded whatever this says.",
    )

    # Degrading gracefully (issue 19): what slow or broken clients may cost, and how the cache
    # answers while a dependency is failing. docs/operations.md and docs/architecture.md.
    http_header_timeout_s: float = Field(
        default=10.0,
        gt=0,
        description="Seconds a request's line and headers may take to arrive once its first"
        " byte has; a connection past it is closed.",
    )
    http_keepalive_timeout_s: float = Field(
        default=75.0,
        gt=0,
        description="Seconds an idle connection is kept open for another request (longer than"
        " a load balancer's idle timeout, 60 s on an ALB, so that it closes first).",
    )
    http_body_timeout_s: float = Field(
        default=5.0,
        gt=0,
        description="Seconds a request body may take to arrive in full once it is read; past"
        " it the answer is 408.",
    )
    cache_stale_after_s: float | None = Field(
        default=0.1,
        gt=0,
        description="Seconds a read that has a stale copy to fall back on waits for its load"
        " before answering from the copy (the load goes on, one per key); unset waits for the"
        " load's own deadline.",
    )
    cache_negative_max_bytes: int = Field(
        default=4 * 1024 * 1024,
        ge=0,
        description="Bytes at most of each process's in-process layer that 'not found' entries"
        " may take (within HUSTLEHUB_CACHE_MEMORY_MAX_BYTES).",
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: tuple[PydanticBaseSettingsSource, ...] = (
            init_settings,
            env_settings,
            dotenv_settings,
            file_secret_settings,
        )
        if isinstance(env_settings, EnvSettingsSource):
            sources = (_RenamedVariables(settings_cls, env_settings), *sources)
        return sources

    @model_validator(mode="before")
    @classmethod
    def _split_client_ids(cls, data: object) -> object:
        if isinstance(data, dict):
            raw = data.get("cognito_app_client_ids")
            if isinstance(raw, str):
                data = {
                    **data,
                    "cognito_app_client_ids": tuple(
                        part.strip() for part in raw.split(",") if part.strip()
                    ),
                }
        return data

    @model_validator(mode="before")
    @classmethod
    def _split_origins(cls, data: object) -> object:
        if isinstance(data, dict):
            raw = data.get("cors_allowed_origins")
            if isinstance(raw, str):
                data = {
                    **data,
                    "cors_allowed_origins": tuple(
                        part.strip() for part in raw.split(",") if part.strip()
                    ),
                }
        return data

    @model_validator(mode="after")
    def _origins_are_exact(self) -> Self:
        for origin in self.cors_allowed_origins:
            problem = origin_problem(origin)
            if problem is not None:
                raise ValueError(f"HUSTLEHUB_CORS_ALLOWED_ORIGINS: {origin!r} {problem}")
        return self

    @model_validator(mode="after")
    def _production_is_explicit(self) -> Self:
        if self.mode != "production":
            return self
        # Every problem at once, each under its own setting, so that one start names them all.
        problems: list[InitErrorDetails] = []
        if self.cursor_secret.get_secret_value() == _DEV_CURSOR_SECRET:
            problems.append(_problem("cursor_secret", "must be set in production"))
        if not self.cognito_app_client_ids:
            problems.append(_problem("cognito_app_client_ids", "must be set in production"))
        if self.cognito_jwks_url is not None and not self.cognito_jwks_url.startswith("https://"):
            problems.append(_problem("cognito_jwks_url", "must be https in production"))
        if problems:
            raise ValidationError.from_exception_data(type(self).__name__, problems)
        return self

    @property
    def uses_legacy(self) -> bool:
        """Whether this phase reads or writes the legacy Postgres at all."""
        return self.migration.uses_legacy

    @property
    def stream_invalidation_enabled(self) -> bool:
        # With Redis, one consumer per host is enough (its invalidations reach every worker
        # through Redis), and DynamoDB throttles more than two readers of one shard.
        if self.worker_slot != 0 and self.redis_url:
            return False
        if self.stream_invalidation is None:
            return self.mode == "dev"
        return self.stream_invalidation

    @property
    def stream_invalidation_configured(self) -> bool:
        """Whether some process of this deployment reads the stream (this one or worker 0)."""
        if self.stream_invalidation is None:
            return self.mode == "dev"
        return self.stream_invalidation

    @property
    def cognito_issuer(self) -> str:
        return (
            f"https://cognito-idp.{self.cognito_region}.amazonaws.com/{self.cognito_user_pool_id}"
        )

    @property
    def log_renderer(self) -> LogFormat:
        if self.log_format is not None:
            return self.log_format
        return "json" if self.mode == "production" else "console"

    @property
    def jwks_url(self) -> str:
        return self.cognito_jwks_url or f"{self.cognito_issuer}/.well-known/jwks.json"


_ORIGIN = re.compile(r"(https?)://([a-z0-9.-]+|\[[0-9a-f:.]+\])(?::(\d{1,5}))?")
_DEFAULT_PORTS = {"http": "80", "https": "443"}


def origin_problem(origin: str) -> str | None:
    """Why `origin` could never equal a browser's Origin header, or None if it could. A
    browser sends scheme, host and port only, in lower case, and leaves a default port out."""
    if "*" in origin:
        return "is a wildcard: list exact origins (or HUSTLEHUB_CORS_PUBLIC_ANY_ORIGIN)"
    match = _ORIGIN.fullmatch(origin)
    if match is None:
        return "is not scheme://host[:port] in lower case, with no path or trailing slash"
    scheme, _, port = match.groups()
    if port is not None and (port == _DEFAULT_PORTS[scheme] or not 0 < int(port) < 65536):
        return "names a port a browser would not send"
    return None
