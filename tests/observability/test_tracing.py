"""Tracing: a traced read's spans reach an OTLP/HTTP receiver in the real wire format, with the
DynamoDB call under the request; callers' trace headers are followed; logs name the trace."""

from __future__ import annotations

import time

from opentelemetry.proto.trace.v1.trace_pb2 import Span

from service.api.requestid import HEADER
from service.app import create_app
from service.config import Settings
from service.runtime.appkeys import TABLE, TRACING
from tests.support.app import AiohttpClient, AiohttpServer
from tests.support.logcapture import captured_logs
from tests.support.otlp import Receiver
from tests.support.otlp import attributes as _attributes


async def test_a_traced_miss_exports_the_request_span_with_dynamodb_and_redis_under_it(
    aiohttp_client: AiohttpClient, aiohttp_server: AiohttpServer, settings: Settings
) -> None:
    receiver = Receiver()
    collector = await aiohttp_server(receiver.app())
    traced = settings.model_copy(
        update={
            "tracing": True,
            "tracing_sample_ratio": 1.0,
            "tracing_otlp_endpoint": f"http://127.0.0.1:{collector.port}/v1/traces",
            "access_log": "all",
        }
    )
    app = create_app(traced)
    client = await aiohttp_client(app)
    table = app[TABLE].name
    given_trace = "4bf92f3577b34da6a3ce929d0e0e4736"
    given_parent = "00f067aa0ba902b7"
    with captured_logs(level="info") as lines:
        miss = await client.get("/v1/categories", headers={HEADER: "traced-miss"})
        assert miss.status == 200
        assert miss.headers["X-Cache"] == "miss"
        followed = await client.get(
            "/healthz", headers={"traceparent": f"00-{given_trace}-{given_parent}-01"}
        )
        xray = await client.get(
            "/healthz",
            headers={
                "X-Amzn-Trace-Id": "Root=1-5759e988-bd862e3fe1be46a994272793;"
                "Parent=53995c3f42cd8ad8;Sampled=1"
            },
        )
        assert (followed.status, xray.status) == (200, 200)
    await client.close()  # the app's cleanup flushes the last batch to the receiver

    spans = receiver.spans()
    (server,) = [
        s for s in spans if s.name == "GET /v1/categories" and s.kind == Span.SPAN_KIND_SERVER
    ]
    assert _attributes(server)["http.route"] == "/v1/categories"
    assert _attributes(server)["http.response.status_code"] == 200
    assert _attributes(server)["hustlehub.request_id"] == "traced-miss"
    trace_id = server.trace_id.hex()
    # X-Ray's id format: the first 32 bits are the trace's start, in epoch seconds.
    assert abs(int(trace_id[:8], 16) - time.time()) < 600
    children = [s for s in spans if s.trace_id == server.trace_id and s is not server]
    dynamodb = [s for s in children if s.name == "DynamoDB.Query"]
    assert dynamodb, [s.name for s in children]
    for call in dynamodb:
        assert call.parent_span_id == server.span_id
        assert call.kind == Span.SPAN_KIND_CLIENT
        attributes = _attributes(call)
        assert attributes["rpc.method"] == "Query"
        assert attributes["aws.dynamodb.table_names"] == [table]
        assert attributes["aws.dynamodb.retries"] == 0
        assert attributes["aws.dynamodb.consumed_capacity"]
    redis = [s for s in children if _attributes(s).get("db.system") == "redis"]
    assert redis, [s.name for s in children]

    healthz = [s for s in spans if s.name == "GET /healthz"]
    by_trace = {s.trace_id.hex(): s for s in healthz}
    assert by_trace[given_trace].parent_span_id.hex() == given_parent
    assert by_trace["5759e988bd862e3fe1be46a994272793"].parent_span_id.hex() == "53995c3f42cd8ad8"

    access = [e for e in lines.events() if e.get("request_id") == "traced-miss"]
    assert access
    for event in access:
        assert event["trace_id"] == trace_id
        assert event["xray_trace_id"] == f"1-{trace_id[:8]}-{trace_id[8:]}"


async def test_tracing_is_off_by_default_and_then_wires_nothing(
    aiohttp_client: AiohttpClient, settings: Settings
) -> None:
    assert Settings(mode="test").tracing is False
    app = create_app(settings)
    client = await aiohttp_client(app)
    assert TRACING not in app
    assert app[TABLE].tracer is None
    response = await client.get(
        "/healthz", headers={"traceparent": "00-" + "1" * 32 + "-" + "2" * 16 + "-01"}
    )
    assert response.status == 200
