"""A fresh cached answer written as one buffer (service.api.prepared), read off the socket as a
client gets it: one of each header, the right length, no body for HEAD, HTTP/1.0 and
keep-alive, CORS per request, Connection: close while draining."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from prometheus_client import CollectorRegistry

from cache.entry import Entry
from cache.memory_layer import MemoryLayer
from cache.readthrough import ReadThroughCache
from metrics.registry import Metrics
from service.api.cors import CorsPolicy
from service.api.prepared import head
from service.api.responses import public_cache_control, public_vary
from service.api.routes import ROUTES, add_routes
from service.catalog import cachekeys
from service.catalog.reads import Reads
from service.runtime.appkeys import PUBLIC_HEADERS, READS
from service.runtime.health import Drain
from service.store.stores import Stores

BODY = b'{"id":"hit","title":"A listing"}'
# Past the size from which the body is written beside the head rather than copied behind it.
BIG = b'{"id":"big","description":"' + b"x" * 6000 + b'"}'
ORIGIN = "https://app.hustlehub.test"
PATH = "/v1/listings/hit"


@dataclass
class Answer:
    status_line: str
    headers: list[tuple[str, str]]
    body: bytes

    def all(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k.lower() == name.lower()]

    def one(self, name: str) -> str:
        values = self.all(name)
        assert len(values) == 1, f"{name}: {values}"
        return values[0]


@dataclass
class Served:
    server: TestServer
    drain: Drain

    async def connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await asyncio.open_connection("127.0.0.1", self.server.port)


async def read_answer(reader: asyncio.StreamReader, *, head_only: bool = False) -> Answer:
    raw = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    status_line, *lines = raw.decode("latin-1").split("\r\n")[:-2]
    headers = [tuple(part.strip() for part in line.split(":", 1)) for line in lines]
    answer = Answer(status_line, headers, b"")  # type: ignore[arg-type]
    if not head_only:
        answer.body = await asyncio.wait_for(
            reader.readexactly(int(answer.one("Content-Length"))), 5
        )
    return answer


def request(
    method: str = "GET", *, version: str = "1.1", extra: str = "", path: str = PATH
) -> bytes:
    return f"{method} {path} HTTP/{version}\r\nHost: 127.0.0.1\r\n{extra}\r\n".encode()


@pytest.fixture
async def served() -> AsyncIterator[Served]:
    metrics = Metrics(CollectorRegistry(auto_describe=True))
    memory = MemoryLayer(max_bytes=1 << 20)
    cache = ReadThroughCache(
        memory=memory, redis=None, observer=metrics.cache, fresh_ttl=300, stale_window=3600
    )
    now = time.time()
    for ref, body in (("hit", BODY), ("big", BIG)):
        memory.put(
            cachekeys.listing_key(ref),
            ("t",),
            Entry.build(body, status=200, now=now, ttl=3600),
            fresh_until=now + 600,
            keep_until=now + 900,
        )
    cors = CorsPolicy(
        origins=frozenset({ORIGIN}), public_any_origin=False, max_age_s=600, rejected=lambda _: None
    )
    drain = Drain()
    app = web.Application()
    # A hit never reaches the stores.
    app[READS] = Reads(Stores.__new__(Stores), cache, negative_ttl=30, deadline_s=1)
    app[PUBLIC_HEADERS] = (public_cache_control(5), public_vary(origin=cors.varies(public=True)))
    add_routes(app, ROUTES, metrics=metrics.http, deadline_s=1, cors=cors, drain=drain)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield Served(server, drain)
    finally:
        await server.close()


async def test_a_hit_says_each_header_once_with_its_length(served: Served) -> None:
    reader, writer = await served.connect()
    writer.write(request(extra="X-Request-Id: trace-me-1\r\n"))
    answer = await read_answer(reader)
    writer.close()
    assert answer.status_line == "HTTP/1.1 200 OK"
    assert answer.body == BODY
    assert answer.one("Content-Length") == str(len(BODY))
    assert answer.one("Content-Type") == "application/json"
    assert answer.one("X-Cache") == "memory"
    assert answer.one("Vary") == "Accept-Encoding, Origin"
    assert answer.one("Cache-Control").startswith("public, max-age=5")
    assert answer.one("ETag").startswith('"')
    assert answer.one("Server") == "hustlehub"
    assert answer.one("X-Request-Id") == "trace-me-1"
    assert answer.one("Date").endswith(" GMT")
    assert answer.all("Connection") == []  # HTTP/1.1 keeps the connection by default
    assert answer.all("Access-Control-Allow-Origin") == []  # no Origin sent


async def test_keep_alive_serves_the_next_request_on_the_same_connection(served: Served) -> None:
    reader, writer = await served.connect()
    ids = []
    for _ in range(3):
        writer.write(request())
        answer = await read_answer(reader)
        assert answer.body == BODY
        ids.append(answer.one("X-Request-Id"))
    writer.close()
    assert len(set(ids)) == 3, "each request has an id of its own"


async def test_head_sends_the_length_and_no_body(served: Served) -> None:
    reader, writer = await served.connect()
    writer.write(request("HEAD"))
    answer = await read_answer(reader, head_only=True)
    assert answer.status_line == "HTTP/1.1 200 OK"
    assert answer.one("Content-Length") == str(len(BODY))
    # Had the body been sent, the next answer would start inside it.
    writer.write(request())
    following = await read_answer(reader)
    writer.close()
    assert following.status_line == "HTTP/1.1 200 OK"
    assert following.body == BODY


async def test_http_1_0_closes_unless_asked_to_keep_alive(served: Served) -> None:
    reader, writer = await served.connect()
    writer.write(request(version="1.0"))
    answer = await read_answer(reader)
    assert answer.status_line == "HTTP/1.0 200 OK"
    assert answer.all("Connection") == []
    assert await asyncio.wait_for(reader.read(), 5) == b"", "the server closed the connection"
    writer.close()

    reader, writer = await served.connect()
    writer.write(request(version="1.0", extra="Connection: keep-alive\r\n"))
    kept = await read_answer(reader)
    assert kept.one("Connection") == "keep-alive"
    writer.write(request(version="1.0", extra="Connection: keep-alive\r\n"))
    assert (await read_answer(reader)).body == BODY
    writer.close()


async def test_a_client_asking_to_close_is_told_and_closed(served: Served) -> None:
    reader, writer = await served.connect()
    writer.write(request(extra="Connection: close\r\n"))
    answer = await read_answer(reader)
    assert answer.one("Connection") == "close"
    assert await asyncio.wait_for(reader.read(), 5) == b""
    writer.close()


async def test_an_allowed_origin_is_answered_per_request(served: Served) -> None:
    reader, writer = await served.connect()
    writer.write(request(extra=f"Origin: {ORIGIN}\r\n"))
    allowed = await read_answer(reader)
    writer.write(request(extra="Origin: https://elsewhere.test\r\n"))
    refused = await read_answer(reader)
    writer.close()
    assert allowed.one("Access-Control-Allow-Origin") == ORIGIN
    assert "X-Request-Id" in allowed.one("Access-Control-Expose-Headers")
    assert allowed.one("Vary") == "Accept-Encoding, Origin"
    assert refused.all("Access-Control-Allow-Origin") == []
    assert refused.one("Vary") == "Accept-Encoding, Origin"


async def test_while_draining_every_answer_closes_its_connection(served: Served) -> None:
    reader, writer = await served.connect()
    writer.write(request())
    assert (await read_answer(reader)).all("Connection") == []
    served.drain.draining = True
    writer.write(request())
    answer = await read_answer(reader)
    assert answer.body == BODY
    assert answer.one("Connection") == "close"
    assert await asyncio.wait_for(reader.read(), 5) == b""
    writer.close()


async def test_a_large_body_goes_out_whole_between_answers(served: Served) -> None:
    reader, writer = await served.connect()
    for path, body in (("/v1/listings/big", BIG), (PATH, BODY), ("/v1/listings/big", BIG)):
        writer.write(request(path=path))
        answer = await read_answer(reader)
        assert answer.one("Content-Length") == str(len(body))
        assert answer.body == body
    writer.write(request("HEAD", path="/v1/listings/big"))
    assert (await read_answer(reader, head_only=True)).one("Content-Length") == str(len(BIG))
    writer.write(request())
    assert (await read_answer(reader)).body == BODY
    writer.close()


def test_a_head_line_with_a_line_break_is_refused() -> None:
    with pytest.raises(ValueError, match="single line"):
        head({"ETag": '"x"\r\nSet-Cookie: a=b'}, 1)
