"""An OTLP/HTTP traces receiver in the test's own process, for tests that read the spans a
traced app exports in the real wire format."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.trace.v1.trace_pb2 import Span


class Receiver:
    """An OTLP/HTTP traces endpoint: what a collector would be sent, decoded."""

    def __init__(self) -> None:
        self.requests: list[ExportTraceServiceRequest] = []

    def app(self) -> web.Application:
        async def traces(request: web.Request) -> web.Response:
            assert request.content_type == "application/x-protobuf"
            message = ExportTraceServiceRequest()
            message.ParseFromString(await request.read())
            self.requests.append(message)
            reply = ExportTraceServiceResponse().SerializeToString()
            return web.Response(body=reply, content_type="application/x-protobuf")

        app = web.Application()
        app.router.add_post("/v1/traces", traces)
        return app

    def spans(self) -> list[Span]:
        return [
            span
            for message in self.requests
            for resource in message.resource_spans
            for scope in resource.scope_spans
            for span in scope.spans
        ]


def attributes(span: Span) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for kv in span.attributes:
        kind = kv.value.WhichOneof("value")
        value = getattr(kv.value, kind) if kind else None
        if kind == "array_value":
            value = [getattr(v, v.WhichOneof("value")) for v in kv.value.array_value.values]
        found[kv.key] = value
    return found
