"""The ceiling serves a body of a given size, or exactly the bytes it is handed with their
Content-Encoding (the Brotli comparison: the same bytes the service sends)."""

from __future__ import annotations

import brotli

from loadtests.bare import create_app
from tests.support.app import AiohttpClient


async def test_the_ceiling_answers_the_bytes_it_was_handed(aiohttp_client: AiohttpClient) -> None:
    body = brotli.compress(b'{"items":[]}' * 200)
    client = await aiohttp_client(create_app(0, body=body, content_encoding="br"))
    response = await client.get("/v1/anything", auto_decompress=False)
    assert await response.read() == body
    assert response.headers["Content-Encoding"] == "br"
    sized = await aiohttp_client(create_app(471))
    assert len(await (await sized.get("/x")).read()) == 471
