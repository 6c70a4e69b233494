"""Exemplars: with tracing on, a sampled request's trace id is the exemplar of its latency bucket
and of its DynamoDB calls' buckets, which a scrape asking for OpenMetrics shows; every other
scrape gets the text format as before. With several workers (prometheus_client's multiprocess
mode) there are none: its files keep no exemplars."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry
from prometheus_client.metrics_core import Metric
from prometheus_client.openmetrics.parser import text_string_to_metric_families
from prometheus_client.parser import text_string_to_metric_families as text_families
from prometheus_client.samples import Exemplar

from metrics.registry import render, scrape_registry
from service.api.requestid import HEADER
from service.app import create_app
from service.config import Settings
from service.runtime import tracing
from tests.support.app import AiohttpClient, AiohttpServer
from tests.support.otlp import Receiver

ROOT = Path(__file__).resolve().parents[2]
# What Prometheus 2 sends: OpenMetrics first, the text format as a fallback.
PROMETHEUS_ACCEPT = (
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;"
    "q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
)
REQUESTS = "hustlehub_http_request_duration_seconds"
DYNAMODB = "hustlehub_dynamodb_operation_duration_seconds"


async def receiving(aiohttp_server: AiohttpServer) -> tuple[Receiver, str]:
    """A receiver, and the OTLP traces URL it answers at."""
    receiver = Receiver()
    collector = await aiohttp_server(receiver.app())
    return receiver, f"http://127.0.0.1:{collector.port}/v1/traces"


def traced(settings: Settings, endpoint: str, *, ratio: float = 1.0) -> Settings:
    return settings.model_copy(
        update={
            "tracing": True,
            "tracing_sample_ratio": ratio,
            "tracing_otlp_endpoint": endpoint,
        }
    )


def families(openmetrics: str) -> list[Metric]:
    # prometheus_client ships py.typed but leaves its OpenMetrics parser unannotated.
    return list(text_string_to_metric_families(openmetrics))  # type: ignore[no-untyped-call]


def exemplars(openmetrics: str, family: str, **labels: str) -> list[Exemplar]:
    """The exemplars on the buckets of `family`'s series with `labels`, each checked to lie in
    the bucket that shows it."""
    found: list[Exemplar] = []
    for metric in families(openmetrics):
        if metric.name != family:
            continue
        below = float("-inf")
        for sample in metric.samples:
            if not sample.name.endswith("_bucket") or not labels.items() <= sample.labels.items():
                continue
            bound = float(sample.labels["le"])
            if sample.exemplar is not None:
                assert below < sample.exemplar.value <= bound, sample
                found.append(sample.exemplar)
            below = bound
    return found


def every_exemplar(openmetrics: str) -> list[Exemplar]:
    return [
        sample.exemplar
        for metric in families(openmetrics)
        for sample in metric.samples
        if sample.exemplar is not None
    ]


async def test_a_sampled_requests_trace_is_the_exemplar_of_its_latency_on_openmetrics(
    aiohttp_client: AiohttpClient, aiohttp_server: AiohttpServer, settings: Settings
) -> None:
    receiver, endpoint = await receiving(aiohttp_server)
    client = await aiohttp_client(create_app(traced(settings, endpoint)))
    miss = await client.get("/v1/categories", headers={HEADER: "exemplar-miss"})
    assert (miss.status, miss.headers["X-Cache"]) == (200, "miss")
    scrape = await client.get("/metrics", headers={"Accept": PROMETHEUS_ACCEPT})
    assert scrape.status == 200
    assert scrape.headers["Content-Type"].startswith("application/openmetrics-text; version=1.0.0")
    body = await scrape.text()
    assert body.endswith("# EOF\n")
    await client.close()  # the app's cleanup flushes the last batch to the receiver

    (server,) = [s for s in receiver.spans() if s.name == "GET /v1/categories"]
    trace_id = server.trace_id.hex()
    by_route = exemplars(body, REQUESTS, route="/v1/categories", method="GET")
    assert [e.labels for e in by_route] == [{"trace_id": trace_id}]
    # The DynamoDB Query of the miss, in the same trace.
    assert {"trace_id": trace_id} in [
        e.labels for e in exemplars(body, DYNAMODB, operation="Query")
    ]


async def test_without_an_openmetrics_accept_the_scrape_is_the_text_format_as_before(
    aiohttp_client: AiohttpClient, aiohttp_server: AiohttpServer, settings: Settings
) -> None:
    _, endpoint = await receiving(aiohttp_server)
    client = await aiohttp_client(create_app(traced(settings, endpoint)))
    assert (await client.get("/v1/categories")).status == 200
    for accept in (None, "text/plain;version=0.0.4", "text/plain", "*/*"):
        headers = {} if accept is None else {"Accept": accept}
        scrape = await client.get("/metrics", headers=headers)
        assert scrape.headers["Content-Type"] == CONTENT_TYPE_LATEST, accept
        body = await scrape.text()
        assert "# EOF" not in body
        assert not [line for line in body.splitlines() if " # {" in line]
        names = {family.name for family in text_families(body)}
        assert {REQUESTS, DYNAMODB, "hustlehub_http_requests"} <= names


async def test_no_exemplar_without_tracing_or_for_an_unsampled_request(
    aiohttp_client: AiohttpClient, aiohttp_server: AiohttpServer, settings: Settings
) -> None:
    _, endpoint = await receiving(aiohttp_server)
    # Untraced there is nothing OpenMetrics would carry more: the cheaper text format answers.
    untraced = await aiohttp_client(create_app(settings))
    assert (await untraced.get("/v1/categories")).status == 200
    scrape = await untraced.get("/metrics", headers={"Accept": "application/openmetrics-text"})
    assert scrape.headers["Content-Type"] == CONTENT_TYPE_LATEST
    assert not [line for line in (await scrape.text()).splitlines() if " # {" in line]
    await untraced.close()
    unsampled = await aiohttp_client(create_app(traced(settings, endpoint, ratio=0.0)))
    assert (await unsampled.get("/v1/categories")).status == 200
    scrape = await unsampled.get("/metrics", headers={"Accept": "application/openmetrics-text"})
    assert scrape.headers["Content-Type"].startswith("application/openmetrics-text")
    assert every_exemplar(await scrape.text()) == []


WORKER = """
import sys
from prometheus_client import CollectorRegistry
from metrics.registry import Metrics, require_multiprocess_mode

require_multiprocess_mode()
metrics = Metrics(CollectorRegistry())
trace_id = sys.argv[1]
metrics.http.observe_answer("/v1/categories", "GET", 200, "miss", 0.004, 0.001)
metrics.http.exemplify("/v1/categories", "GET", 200, 0.004, trace_id)
metrics.dynamodb.call_finished("Query", 0.003, "ok", None, trace_id=trace_id)
metrics.tallies.flush()
"""


@pytest.mark.subprocess  # the worker is a `python -c` process in multiprocess mode
def test_several_workers_keep_no_exemplars_and_the_wrapper_does_not_look(
    tmp_path: Path, settings: Settings
) -> None:
    # One process's metrics keep them; `serve --workers N` sets the multiprocess directory.
    one = tracing.build(settings.model_copy(update={"tracing": True}))
    several = tracing.build(
        settings.model_copy(update={"tracing": True, "metrics_multiproc_dir": str(tmp_path)})
    )
    assert one is not None
    assert several is not None
    assert (one.exemplars, several.exemplars) == (True, False)

    # And were one set, prometheus_client's multiprocess values drop it: the merged scrape
    # counts the observations and shows no exemplar.
    trace_id = "5759e988bd862e3fe1be46a994272793"
    result = subprocess.run(
        [sys.executable, "-c", WORKER, trace_id],
        env={**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    merged = scrape_registry(tmp_path, CollectorRegistry())
    assert merged.get_sample_value(f"{DYNAMODB}_count", {"operation": "Query"}) == 1.0
    body, content_type = render(merged, accept="application/openmetrics-text")
    assert content_type.startswith("application/openmetrics-text")
    assert f"{REQUESTS}_bucket" in body.decode()
    assert every_exemplar(body.decode()) == []
