"""Tracing: OpenTelemetry spans for requests and the calls they make, exported over OTLP/HTTP.

Off unless HUSTLEHUB_TRACING is set, and then nothing of it is on the hot path: the endpoint
wrapper and the table take a tracer only when there is one (service.api.endpoint,
service.store.table), so an untraced service runs the same code as before tracing existed but
for one None check a request (the exemplar, below) and one a DynamoDB call.

On: one TracerProvider per app (never the global one: tests run several apps in a process),
with X-Ray's trace id format (its first 32 bits are the start time, which X-Ray requires and
W3C allows), a parent-based ratio sampler (a caller's sampling decision wins), and both W3C
`traceparent` and AWS `X-Amzn-Trace-Id` read from requests. Spans: a server span per request,
a client span per DynamoDB call (service.store.table: operation, table, consumed capacity,
retries), and redis-py's and asyncpg's client spans from their OpenTelemetry instrumentation.
Log lines written under a span carry its trace and span ids (service.runtime.logs).

Exemplars: a sampled request's trace id is kept as the exemplar of its latency bucket, and a
sampled DynamoDB call's of its own (service.api.endpoint, service.store.table), which an
OpenMetrics scrape shows (service.api.ops). Only with one process's metrics: prometheus_client's
multiprocess mode (`serve --workers N`) keeps no exemplars, so the endpoint wrapper then does
not look for the trace at all (`Tracing.exemplars`).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.propagators.composite import CompositePropagator

from service.config import Settings
from service.runtime import logs

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.sampling import Sampler
    from opentelemetry.util.types import Attributes

# The SDK, its exporter (protobuf, requests) and the instrumentations are imported only when
# tracing is on: a service that does not trace does not load them.

SERVICE_NAME = "hustlehub-directory"
EXPORT_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class Tracing:
    provider: TracerProvider
    tracer: trace.Tracer
    propagator: CompositePropagator
    # Whether the metrics keep exemplars: a single process's registry does, the files of
    # prometheus_client's multiprocess mode do not (its values drop them).
    exemplars: bool = False

    def parent(self, headers: Mapping[str, str]) -> Context:
        """The caller's trace context from `traceparent` or `X-Amzn-Trace-Id`, if any."""
        return self.propagator.extract(carrier=headers)


def build(settings: Settings) -> Tracing | None:
    """The app's tracing, or None when it is off. No thread, no connection: exporting starts
    with `exporting`, in a cleanup context."""
    if not settings.tracing:
        return None
    from opentelemetry.propagators.aws import AwsXRayPropagator
    from opentelemetry.sdk.extension.aws.trace import AwsXRayIdGenerator
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.sampling import ParentBased
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    provider = TracerProvider(
        resource=Resource.create(
            {"service.name": SERVICE_NAME, "service.version": logs.service_version()}
        ),
        sampler=ParentBased(_requests_only(settings.tracing_sample_ratio)),
        id_generator=AwsXRayIdGenerator(),
    )
    propagator = CompositePropagator([TraceContextTextMapPropagator(), AwsXRayPropagator()])
    return Tracing(
        provider,
        provider.get_tracer("hustlehub"),
        propagator,
        exemplars=settings.metrics_multiproc_dir is None,
    )


def _requests_only(ratio: float) -> Sampler:
    """The root sampler: a share of requests, and no client span outside one. The cache's
    invalidation listener pings Redis every second and readiness probes DynamoDB; traced on
    their own they would be traces of nothing anyone asked for."""
    from opentelemetry.sdk.trace import sampling

    by_ratio = sampling.TraceIdRatioBased(ratio)

    class RequestsOnly(sampling.Sampler):
        def should_sample(
            self,
            parent_context: Context | None,
            trace_id: int,
            name: str,
            kind: trace.SpanKind | None = None,
            attributes: Attributes = None,
            links: Sequence[trace.Link] | None = None,
            trace_state: trace.TraceState | None = None,
        ) -> sampling.SamplingResult:
            if kind == trace.SpanKind.CLIENT:
                return sampling.SamplingResult(sampling.Decision.DROP)
            return by_ratio.should_sample(
                parent_context, trace_id, name, kind, attributes, links, trace_state
            )

        def get_description(self) -> str:
            return f"RequestsOnly({ratio})"

    return RequestsOnly()


def sampled_trace_id() -> str | None:
    """The current span's trace id in hex, if tracing samples it (an unsampled trace is
    exported nowhere, so an exemplar naming it would lead nowhere)."""
    context = trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.trace_flags.sampled else None


def current_ids() -> dict[str, str] | None:
    """The current span's ids as log fields: W3C's hex and X-Ray's `1-<time>-<rest>`."""
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return None
    trace_id = format(context.trace_id, "032x")
    return {
        "trace_id": trace_id,
        "span_id": format(context.span_id, "016x"),
        "xray_trace_id": f"1-{trace_id[:8]}-{trace_id[8:]}",
    }


@asynccontextmanager
async def exporting(tracing: Tracing, settings: Settings) -> AsyncIterator[None]:
    """Export spans while the app runs; at shutdown, flush what is left (bounded)."""
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.instrumentation.redis import RedisInstrumentor
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    exporter = OTLPSpanExporter(
        endpoint=settings.tracing_otlp_endpoint, timeout=int(EXPORT_TIMEOUT_S)
    )
    tracing.provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=1000))
    redis = RedisInstrumentor()
    redis.instrument(tracer_provider=tracing.provider)
    postgres = None
    if settings.uses_legacy:
        # Imported here: asyncpg is the `migrate` extra, needed only by the legacy phases.
        from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor

        postgres = AsyncPGInstrumentor()  # type: ignore[no-untyped-call]
        postgres.instrument(tracer_provider=tracing.provider)
    logs.add_trace_context(current_ids)
    try:
        yield
    finally:
        logs.remove_trace_context(current_ids)
        redis.uninstrument()
        if postgres is not None:
            postgres.uninstrument()
        # shutdown() flushes the batch and blocks on the export: off the event loop.
        await asyncio.to_thread(tracing.provider.shutdown)
