"""Settings: read once from the environment (prefix HUSTLEHUB_), frozen, passed down."""

from __future__ import annotations

from typing import Annotated, Literal, Self

from pydantic import Field, SecretStr, ValidationError, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

Mode = Literal["production", "dev", "test"]
StreamStart = Literal["latest", "trim_horizon"]
# The Supabase migration's three phases (service/transition): which store is read and
# written. dynamodb-only is the service as it runs after the migration, and the default.
MigrationPhase = Literal["dual-write", "dual-read", "dynamodb-only"]

# A development-only HMAC key; production refuses to start with it (see the validator).
_DEV_CURSOR_SECRET = "dev-only-cursor-secret-change-me"  # noqa: S105


def _problem(field: str, message: str) -> InitErrorDetails:
    # No input value: an error about a secret must not carry the secret.
    return InitErrorDetails(
        type=PydanticCustomError("production", message), loc=(field,), input=None
    )


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HUSTLEHUB_", frozen=True, extra="ignore")

    mode: Mode = "production"
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    workers: int = Field(default=1, ge=1, le=64)

    aws_region: str = "us-east-1"
    dynamodb_endpoint: str | None = None
    table_name: str = "HustleHubDirectory"
    # botocore's own socket timeouts are 60 s; these bound one attempt and the whole call.
    dynamodb_connect_timeout_s: float = Field(default=1.0, gt=0)
    dynamodb_read_timeout_s: float = Field(default=2.0, gt=0)
    dynamodb_call_deadline_s: float = Field(default=3.0, gt=0)
    dynamodb_retry_base_s: float = Field(default=0.025, gt=0)
    dynamodb_retry_cap_s: float = Field(default=0.5, gt=0)
    dynamodb_max_pool_connections: int = Field(default=64, ge=1)

    redis_url: str | None = "redis://127.0.0.1:6379/0"
    redis_timeout_s: float = Field(default=0.05, gt=0)
    redis_prefix: str = "hh"
    # Cluster mode (ElastiCache cluster mode enabled): REDIS_URL names any node; entries are
    # spread over this many slot groups (cache.keyspace says why they are groups).
    redis_cluster: bool = False
    redis_cluster_groups: int = Field(default=16, ge=1, le=1024)

    cache_memory_max_bytes: int = Field(default=64 * 1024 * 1024, ge=0)
    cache_fresh_ttl_s: float = Field(default=300.0, gt=0)
    cache_stale_window_s: float = Field(default=3600.0, ge=0)
    cache_negative_ttl_s: float = Field(default=30.0, gt=0)
    cache_http_max_age_s: int = Field(default=5, ge=0)
    # How long one PONG on the invalidation channel lets a process serve its in-process layer,
    # and so the longest a write waits for an instance that does not acknowledge it.
    cache_lease_s: float = Field(default=0.05, gt=0, lt=3.0)
    # How long a registered process counts as live without refreshing (a crashed worker makes
    # writes wait one lease each until then).
    cache_registry_ttl_s: float = Field(default=5.0, gt=0)

    cognito_region: str = "us-east-1"
    cognito_user_pool_id: str = "us-east-1_example"
    cognito_app_client_ids: Annotated[tuple[str, ...], NoDecode] = ()
    # Never derived from a token's `iss`: a token must not choose where its keys come from.
    cognito_jwks_url: str | None = None
    # Only for the migration's Cognito lookups against an emulator; unset means AWS.
    cognito_endpoint: str | None = None
    jwks_ttl_s: float = Field(default=3600.0, gt=0)
    jwks_min_refresh_interval_s: float = Field(default=10.0, ge=0)
    jwt_leeway_s: int = Field(default=30, ge=0, le=30)

    cursor_secret: SecretStr = SecretStr(_DEV_CURSOR_SECRET)
    request_timeout_s: float = Field(default=10.0, gt=0)
    max_body_bytes: int = Field(default=64 * 1024, ge=1024)
    http_max_line_bytes: int = Field(default=32 * 1024, ge=8190)
    http_max_field_bytes: int = Field(default=16 * 1024, ge=8190)
    shutdown_grace_s: float = Field(default=10.0, ge=0)

    metrics_multiproc_dir: str | None = None
    # Set by `serve --workers N` for each worker (0..N-1; a replacement keeps the dead one's
    # slot), not meant for the environment: work that one process per host must do runs in 0.
    worker_slot: int = Field(default=0, ge=0)

    # Invalidation from the table's stream (service/streams): unset means on in dev mode only.
    stream_invalidation: bool | None = None
    stream_start_at: StreamStart = "latest"
    stream_poll_interval_s: float = Field(default=0.25, gt=0)
    stream_refresh_interval_s: float = Field(default=30.0, gt=0)
    stream_retry_base_s: float = Field(default=0.1, gt=0)
    stream_retry_cap_s: float = Field(default=5.0, gt=0)

    migration_phase: MigrationPhase = "dynamodb-only"
    # The legacy Postgres; used in dual-write and dual-read, ignored (never opened) after.
    legacy_dsn: SecretStr | None = None
    legacy_pool_max_size: int = Field(default=10, ge=3, le=100)
    legacy_command_timeout_s: float = Field(default=2.0, gt=0)
    migration_reconcile_interval_s: float = Field(default=1.0, gt=0)
    migration_retry_base_s: float = Field(default=0.5, gt=0)
    migration_retry_cap_s: float = Field(default=60.0, gt=0)
    migration_max_attempts: int = Field(default=8, ge=1, le=100)
    # What a dual-write spends applying its own changes to DynamoDB before leaving the rest
    # to the reconciler (the write has committed to Postgres either way).
    migration_push_timeout_s: float = Field(default=1.0, gt=0)
    # How long, once DynamoDB has answered, a dual-read waits for Postgres's answer to compare.
    migration_shadow_timeout_s: float = Field(default=0.25, gt=0)

    # The legacy Supabase database `hustlehub migrate` reads (a setting, not only a flag, so
    # that its password need not appear in a process list or a shell history).
    migrate_dsn: SecretStr | None = None

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

    @model_validator(mode="after")
    def _legacy_phases_need_postgres(self) -> Self:
        if self.migration_phase != "dynamodb-only" and not self.legacy_dsn:
            raise ValueError(
                f"HUSTLEHUB_LEGACY_DSN must be set in migration phase {self.migration_phase}"
            )
        return self

    @property
    def uses_legacy(self) -> bool:
        """Whether this phase reads or writes the legacy Postgres at all."""
        return self.migration_phase != "dynamodb-only"

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
    def cognito_issuer(self) -> str:
        return (
            f"https://cognito-idp.{self.cognito_region}.amazonaws.com/{self.cognito_user_pool_id}"
        )

    @property
    def jwks_url(self) -> str:
        return self.cognito_jwks_url or f"{self.cognito_issuer}/.well-known/jwks.json"
