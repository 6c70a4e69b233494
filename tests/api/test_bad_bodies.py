"""Bodies sent badly get a cheap problem+json 4xx: a declared length past the limit is 413
before a byte is read, a body that stalls is 408, one that does not decode as its
Content-Encoding says is 400; none of them is a server error."""

from __future__ import annotations

import asyncio
import gzip
import time
import uuid
from typing import Any

import orjson
import pytest
from aiohttp.test_utils import TestClient

from service.app import create_app
from service.config import Settings
from tests.support.app import AiohttpClient, bearer

Client = TestClient[Any, Any]
PATH = "/v1/admin/categories"


async def _exchange(client: Client, head: bytes, body: bytes = b"", *, within_s: float) -> bytes:
    """Send `head` (and `body`) on a raw connection; the answer, once it is complete (or what
    came of it when the server closed the connection or `within_s` passed)."""
    reader, writer = await asyncio.open_connection(client.server.host, client.server.port)
    try:
        writer.write(head + body)
        await writer.drain()
        received = b""
        deadline = time.monotonic() + within_s
        for _ in range(1000):  # bounded by count and by time
            left = deadline - time.monotonic()
            if left <= 0:
                break
            try:
                chunk = await asyncio.wait_for(reader.read(65536), left)
            except TimeoutError:
                break
            if not chunk:
                break
            received += chunk
            if _complete(received):
                break
        return received
    finally:
        writer.close()


def _complete(raw: bytes) -> bool:
    head, found, body = raw.partition(b"\r\n\r\n")
    if not found:
        return False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(body) >= int(value)
    return False


def _head(token: str, *, length: int, extra: str = "") -> bytes:
    return (
        f"POST {PATH} HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {length}\r\n{extra}\r\n"
    ).encode()


def _problem(raw: bytes, status: int) -> dict[str, Any]:
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line = head.split(b"\r\n", 1)[0]
    assert status_line.startswith(f"HTTP/1.1 {status} ".encode()), raw[:300]
    assert b"content-type: application/problem+json" in head.lower()
    problem: dict[str, Any] = orjson.loads(body)
    assert problem["status"] == status
    return problem


async def test_a_declared_length_past_the_limit_is_413_before_the_body_is_sent(
    client: Client, admin_token: str, settings: Settings
) -> None:
    started = time.monotonic()
    # Only the head: a server that waited for the body would answer nothing.
    raw = await _exchange(
        client, _head(admin_token, length=settings.max_body_bytes + 1), within_s=2.0
    )
    assert time.monotonic() - started < 2.0
    _problem(raw, 413)
    assert b"connection: close" in raw.lower()


async def test_a_body_that_stalls_is_408_after_the_body_timeout(
    aiohttp_client: AiohttpClient, settings: Settings, admin_token: str
) -> None:
    client = await aiohttp_client(
        create_app(settings.model_copy(update={"http_body_timeout_s": 0.5}))
    )
    started = time.monotonic()
    raw = await _exchange(client, _head(admin_token, length=100), b'{"slug": ', within_s=5.0)
    elapsed = time.monotonic() - started
    _problem(raw, 408)
    assert 0.5 <= elapsed < 3.0  # the body timeout, far below the request deadline (10 s)


@pytest.mark.parametrize("coding", ["gzip", "deflate", "br"])
async def test_a_body_that_does_not_decode_is_400(
    client: Client, admin_token: str, coding: str
) -> None:
    response = await client.post(
        PATH,
        data=b"this is not compressed at all" * 20,
        headers={
            **bearer(admin_token),
            "Content-Type": "application/json",
            "Content-Encoding": coding,
        },
    )
    assert response.status == 400, await response.text()
    assert response.content_type == "application/problem+json"
    assert "Content-Encoding" in (await response.json())["detail"]


async def test_a_body_cut_off_mid_stream_is_400_and_a_good_one_still_works(
    client: Client, admin_token: str
) -> None:
    category = {"slug": f"cut-{uuid.uuid4().hex[:8]}", "name": "Cut", "sortOrder": 1}
    whole = gzip.compress(orjson.dumps(category))
    truncated = whole[: len(whole) // 2] + b"\xff" * 8
    raw = await _exchange(
        client,
        _head(admin_token, length=len(truncated), extra="Content-Encoding: gzip\r\n"),
        truncated,
        within_s=3.0,
    )
    _problem(raw, 400)
    fine = await client.post(
        PATH,
        data=whole,
        headers={
            **bearer(admin_token),
            "Content-Type": "application/json",
            "Content-Encoding": "gzip",
        },
    )
    assert fine.status == 201, await fine.text()


async def test_a_client_that_expects_100_continue_gets_413_before_it_sends_the_body(
    client: Client, admin_token: str, settings: Settings
) -> None:
    expect = "Expect: 100-continue\r\n"
    too_long = _head(admin_token, length=settings.max_body_bytes + 1, extra=expect)
    raw = await _exchange(client, too_long, within_s=2.0)
    assert not raw.startswith(b"HTTP/1.1 100")  # not told to go on
    _problem(raw, 413)
    # Within the limit: told to go on, then answered once the body has come.
    category = {"slug": f"expect-{uuid.uuid4().hex[:8]}", "name": "Expected", "sortOrder": 1}
    body = orjson.dumps(category)
    reader, writer = await asyncio.open_connection(client.server.host, client.server.port)
    try:
        writer.write(_head(admin_token, length=len(body), extra=expect))
        await writer.drain()
        interim = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 2.0)
        assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
        writer.write(body)
        await writer.drain()
        answer = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5.0)
        assert answer.startswith(b"HTTP/1.1 201"), answer
    finally:
        writer.close()
