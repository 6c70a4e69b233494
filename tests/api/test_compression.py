"""Compressed public reads: the representation chosen from Accept-Encoding, each encoding made
once when its cache entry is filled (and kept with it in memory and Redis), an ETag per
representation, Vary on every public read, small bodies left alone."""

from __future__ import annotations

import gzip
from collections.abc import Callable
from typing import Any

import brotli
import pytest
from aiohttp.test_utils import TestClient

from service.api.encoding import preferred
from service.app import create_app
from service.catalog import render
from service.config import Settings
from tests.api.factories import create_category, create_listing
from tests.support.app import AiohttpClient, bearer

Client = TestClient[Any, Any]
DECODE: dict[str, Callable[[bytes], bytes]] = {
    "br": brotli.decompress,
    "gzip": gzip.decompress,
}
LONG = "Flexible hours, walking dogs in the park and along the river. " * 6


async def _raw(client: Client, path: str, accept: str | None, **headers: str) -> Any:
    if accept is not None:
        headers["Accept-Encoding"] = accept
    # Left compressed: the test reads the bytes that went over the wire. None: no
    # Accept-Encoding at all (aiohttp's client would otherwise offer gzip, deflate and br).
    return await client.get(
        path, headers=headers, auto_decompress=False, skip_auto_headers=("Accept-Encoding",)
    )


async def _page_path(client: Client, admin_token: str, listings: int = 4) -> str:
    category = await create_category(client, admin_token)
    for _ in range(listings):
        await create_listing(client, admin_token, category["id"], description=LONG)
    return f"/v1/categories/{category['id']}/listings"


@pytest.mark.parametrize(
    ("accept", "chosen"),
    [
        ("gzip, deflate, br, zstd", "br"),  # what browsers send: equal weights, ours first
        ("gzip;q=1.0, br;q=0.5", "gzip"),
        ("br;q=0.2, gzip;q=0.8, identity;q=0.1", "gzip"),
        ("identity;q=1, gzip;q=0.5", None),  # identity outweighs gzip
        ("gzip;q=0.5, identity;q=0.5", "gzip"),  # a tie with identity: the fewer bytes
        ("br;q=0, gzip;q=0", None),  # both refused: identity
        ("identity;q=0, *;q=0", None),  # everything refused: identity all the same
        ("*", "br"),
        ("*;q=0.3, br;q=0", "gzip"),  # `*` covers what is not named
        ("X-GZIP", "gzip"),
        ("br;q=2, gzip", "gzip"),  # an impossible weight: that item is ignored
        ("br;q=high, gzip;q=0.1", "gzip"),
        ("deflate, zstd", None),  # nothing we make
        ("", None),
    ],
)
def test_the_coding_is_chosen_by_q_values(accept: str, chosen: str | None) -> None:
    codings = preferred(accept)
    assert (codings[0] if codings else None) == chosen


async def test_a_page_is_served_in_the_encoding_asked_for_each_with_its_own_etag(
    client: Client, admin_token: str
) -> None:
    path = await _page_path(client, admin_token)
    plain = await _raw(client, path, None)
    identity = await plain.read()
    assert len(identity) >= render.MIN_COMPRESS_BYTES
    assert "Content-Encoding" not in plain.headers
    assert plain.headers["Vary"] == "Accept-Encoding"
    etags: dict[str | None, str] = {None: plain.headers["ETag"]}
    for coding, decode in DECODE.items():
        response = await _raw(client, path, coding)
        assert response.status == 200
        assert response.headers["X-Cache"] == "memory"
        assert response.headers["Content-Encoding"] == coding
        assert response.headers["Vary"] == "Accept-Encoding"
        body = await response.read()
        assert int(response.headers["Content-Length"]) == len(body) < len(identity) // 2
        assert decode(body) == identity
        etags[coding] = response.headers["ETag"]
    assert len(set(etags.values())) == 3, etags
    # HEAD says what GET would send.
    head = await client.head(path, headers={"Accept-Encoding": "br"}, auto_decompress=False)
    assert head.headers["Content-Encoding"] == "br"
    assert head.headers["ETag"] == etags["br"]


async def test_a_304_confirms_only_the_representation_it_names(
    client: Client, admin_token: str
) -> None:
    path = await _page_path(client, admin_token)
    br = await _raw(client, path, "br")
    etag = br.headers["ETag"]
    again = await _raw(client, path, "br", **{"If-None-Match": etag})
    assert again.status == 304
    assert again.headers["ETag"] == etag
    assert again.headers["Vary"] == "Accept-Encoding"
    assert "Content-Encoding" not in again.headers
    # The client now takes gzip only: its br copy is not what it would get, so no 304.
    other = await _raw(client, path, "gzip", **{"If-None-Match": etag})
    assert other.status == 200
    assert other.headers["Content-Encoding"] == "gzip"
    plain = await _raw(client, path, None, **{"If-None-Match": etag})
    assert plain.status == 200
    assert "Content-Encoding" not in plain.headers


async def test_small_bodies_are_left_alone_and_still_vary(client: Client, admin_token: str) -> None:
    category = await create_category(client, admin_token)
    listing = await create_listing(client, admin_token, category["id"])
    for path in (f"/v1/categories/{category['id']}", f"/v1/listings/{listing['slug']}"):
        await client.get(path)
        response = await _raw(client, path, "br, gzip")
        body = await response.read()
        assert len(body) < render.MIN_COMPRESS_BYTES
        assert "Content-Encoding" not in response.headers
        assert response.headers["Vary"] == "Accept-Encoding"
        assert response.headers["ETag"].startswith('"v1-')
    missing = await _raw(client, "/v1/listings/no-such-listing-here", "br")
    assert missing.status == 404
    assert missing.headers["Vary"] == "Accept-Encoding"


async def test_an_encoded_etag_still_names_the_version_for_if_match(
    client: Client, admin_token: str
) -> None:
    category = await create_category(client, admin_token)
    listing = await create_listing(client, admin_token, category["id"], description=LONG * 2)
    path = f"/v1/listings/{listing['id']}"
    await client.get(path)
    br = await _raw(client, path, "br")
    assert br.headers["Content-Encoding"] == "br"
    patched = await client.patch(
        f"/v1/admin/listings/{listing['id']}",
        json={"title": "Renamed"},
        headers={**bearer(admin_token), "If-Match": br.headers["ETag"]},
    )
    assert patched.status == 200, await patched.text()


async def test_each_encoding_is_made_once_when_the_entry_is_filled_and_kept_in_redis(
    aiohttp_client: AiohttpClient,
    client: Client,
    settings: Settings,
    admin_token: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = await _page_path(client, admin_token)
    made: list[int] = []
    compress = brotli.compress

    def counting(data: bytes, **options: Any) -> bytes:
        made.append(len(data))
        out: bytes = compress(data, **options)
        return out

    monkeypatch.setattr(brotli, "compress", counting)
    first = await _raw(client, path, "br")
    assert first.headers["X-Cache"] == "miss"
    assert len(made) == 1  # the fill
    for _ in range(20):
        hit = await _raw(client, path, "br")
        assert hit.headers["X-Cache"] == "memory"
        assert await hit.read() == await first.read()
    assert len(made) == 1  # hits send what the fill made
    # Another instance without an in-process layer: Redis hands it the encodings too.
    other = await aiohttp_client(
        create_app(settings.model_copy(update={"cache_memory_max_bytes": 0}))
    )
    from_redis = await _raw(other, path, "br")
    assert from_redis.headers["X-Cache"] == "redis"
    assert from_redis.headers["Content-Encoding"] == "br"
    assert from_redis.headers["ETag"] == first.headers["ETag"]
    assert await from_redis.read() == await first.read()
    gz = await _raw(other, path, "gzip")
    assert gzip.decompress(await gz.read()) == await (await _raw(other, path, None)).read()
    assert len(made) == 1


async def test_a_filtered_page_is_compressed_as_it_is_computed(
    client: Client, admin_token: str
) -> None:
    path = await _page_path(client, admin_token, listings=5) + "?remote=false"
    plain = await _raw(client, path, None)
    identity = await plain.read()
    assert len(identity) >= render.MIN_COMPRESS_BYTES
    response = await _raw(client, path, "gzip")
    assert response.headers["Content-Encoding"] == "gzip"
    assert response.headers["Vary"] == "Accept-Encoding"
    assert gzip.decompress(await response.read()) == identity
    assert response.headers["ETag"] != plain.headers["ETag"]
    again = await _raw(client, path, "gzip", **{"If-None-Match": response.headers["ETag"]})
    assert again.status == 304
