"""What a bad client costs the real server (`serve` as a child process, the connection class it
runs): requests the parser refuses are problem+json 400s that echo nothing and are counted as
client errors; bodies that do not decode log one line at most; a request head that trickles
in, and an idle keep-alive connection, are closed after their timeouts."""

from __future__ import annotations

import asyncio
import gzip
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import orjson
import pytest

from tests.support.service_process import ServiceProcess, service_process, settings_env
from tests.support.tokens import CLIENT_ID, POOL_ID, TokenMint

# The test body starts the service as a child process (caching in the machine's Redis),
# where no fixture can mark it.
pytestmark = [pytest.mark.subprocess, pytest.mark.redis]

HEADER_TIMEOUT_S = 0.5
KEEPALIVE_TIMEOUT_S = 2.0  # well apart from the header timeout: timers fire late under load


class Edge:
    def __init__(self, service: ServiceProcess, log: Path) -> None:
        self.service = service
        self.log = log
        host, port = service.base_url.removeprefix("http://").split(":")
        self.host, self.port = host, int(port)

    def log_lines(self) -> list[str]:
        return self.log.read_text(errors="replace").splitlines()


@pytest.fixture
async def edge(moto_endpoint: str, api_table: str, mint: TokenMint) -> AsyncIterator[Edge]:
    env = settings_env(
        endpoint=moto_endpoint, table=api_table, jwks_url=mint.jwks_url, pool_id=POOL_ID,
        client_id=CLIENT_ID, prefix=f"hh-edge-{uuid.uuid4().hex[:8]}",
    )  # fmt: skip
    env["HUSTLEHUB_HTTP_HEADER_TIMEOUT_S"] = str(HEADER_TIMEOUT_S)
    env["HUSTLEHUB_HTTP_KEEPALIVE_TIMEOUT_S"] = str(KEEPALIVE_TIMEOUT_S)
    with tempfile.NamedTemporaryFile(prefix="hh-edge-", suffix=".log") as log:
        async with service_process(env, args=("--drain", "0"), stderr=log) as service:
            yield Edge(service, Path(log.name))


async def _exchange(edge: Edge, data: bytes, *, within_s: float) -> tuple[bytes, float]:
    """What the server sends back to `data` until it closes the connection, and when it did
    (seconds after sending; `within_s` if it never did)."""
    reader, writer = await asyncio.open_connection(edge.host, edge.port)
    started = time.monotonic()
    try:
        writer.write(data)
        await writer.drain()
        received = b""
        for _ in range(1000):  # bounded by count and by time
            left = started + within_s - time.monotonic()
            if left <= 0:
                return received, within_s
            try:
                chunk = await asyncio.wait_for(reader.read(65536), left)
            except TimeoutError:
                return received, within_s
            if not chunk:
                return received, time.monotonic() - started
            received += chunk
        return received, time.monotonic() - started
    finally:
        writer.close()


def _problem(raw: bytes, status: int) -> dict[str, object]:
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.split(b"\r\n", 1)[0].split(b" ")[1] == str(status).encode(), raw[:300]
    assert b"content-type: application/problem+json" in head.lower()
    problem: dict[str, object] = orjson.loads(body)
    assert problem["status"] == status
    return problem


async def _client_errors(edge: Edge) -> float:
    """4xx requests recorded under the route of requests no route matched."""
    url = f"{edge.service.base_url}/metrics"
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        text = await response.text()
    total = 0.0
    for line in text.splitlines():
        if line.startswith("hustlehub_http_requests_total{") and all(
            label in line for label in ('route="unmatched"', 'status="400"')
        ):
            total += float(line.rsplit(" ", 1)[1])
    return total


@pytest.mark.timeout(90)
async def test_the_parser_refuses_in_problem_json_without_echoing_and_counts_it(
    edge: Edge,
) -> None:
    before = await _client_errors(edge)
    marker = "<script>alert(1)</script>"
    cases = [
        f"GET / HTTP/1.1\r\nHost: x\r\nX-Bad\x01: {marker}\r\n\r\n".encode(),  # bad token
        f"GET /{marker} HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n".encode(),
        b"GET / HTTP/1.1\r\nHost: x\r\nX-Long: " + b"a" * (64 * 1024) + b"\r\n\r\n",
        b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" + b"\x00" * 32,  # a TLS hello
    ]
    for data in cases:
        raw, closed_after = await _exchange(edge, data, within_s=5.0)
        problem = _problem(raw, 400)
        assert marker.encode() not in raw
        assert b"aaaa" not in raw
        assert str(problem["detail"]).startswith("the ")
        assert closed_after < 5.0  # and the connection is closed after the answer
    assert await _client_errors(edge) - before == len(cases)
    assert not any("Traceback" in line for line in edge.log_lines())


@pytest.mark.timeout(90)
async def test_a_body_that_does_not_decode_costs_one_log_line_at_most(
    edge: Edge, mint: TokenMint
) -> None:
    garbage = b"\x1f\x8b\x08\x00" + b"not really gzip " * 2048  # a gzip header, then noise
    token = mint.token(f"user-{uuid.uuid4()}")
    lines_before = len(edge.log_lines())
    requests = 0
    for authorization in ("", f"Authorization: Bearer {token}\r\n", "Authorization: Bearer x\r\n"):
        for path in ("/v1/me", "/v1/categories"):
            head = (
                f"PUT {path} HTTP/1.1\r\nHost: x\r\n{authorization}"
                "Content-Type: application/json\r\nContent-Encoding: gzip\r\n"
                f"Content-Length: {len(garbage)}\r\n\r\n"
            ).encode()
            raw, _ = await _exchange(edge, head + garbage, within_s=5.0)
            status = int(raw.split(b" ", 2)[1])
            assert 400 <= status < 500, raw[:300]
            requests += 1
    # The answers are sent before aiohttp drops the rest of each body: let it finish.
    await asyncio.sleep(0.5)
    new_lines = edge.log_lines()[lines_before:]
    assert len(new_lines) <= requests, new_lines
    assert not any("Traceback" in line for line in new_lines)
    # And a well-formed compressed body still goes through.
    fine = gzip.compress(orjson.dumps({"displayName": "Gzipped"}))
    head = (
        f"PUT /v1/me HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
        "Content-Type: application/json\r\nContent-Encoding: gzip\r\n"
        f"Content-Length: {len(fine)}\r\nConnection: close\r\n\r\n"
    ).encode()
    raw, _ = await _exchange(edge, head + fine, within_s=5.0)
    assert raw.startswith(b"HTTP/1.1 20"), raw[:300]


@pytest.mark.timeout(90)
async def test_a_trickling_head_and_an_idle_connection_are_closed_after_their_timeouts(
    edge: Edge,
) -> None:
    # A head that never completes: closed after the header timeout, not the keep-alive one.
    raw, closed_after = await _exchange(edge, b"GET /healthz HTTP/1.1\r\nHost: x\r\n", within_s=5)
    assert raw == b""
    assert HEADER_TIMEOUT_S * 0.9 <= closed_after < KEEPALIVE_TIMEOUT_S, closed_after
    # A whole request, answered, then nothing: closed after the keep-alive timeout.
    raw, closed_after = await _exchange(
        edge, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", within_s=5
    )
    assert raw.startswith(b"HTTP/1.1 200")
    assert KEEPALIVE_TIMEOUT_S * 0.9 <= closed_after < KEEPALIVE_TIMEOUT_S + 2, closed_after
