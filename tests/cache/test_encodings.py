"""An entry's encodings travel with it: through the Redis value format, into the memory
layer's byte budget, and from a loader into the entry the cache fills."""

from __future__ import annotations

import struct

import pytest

from cache import Entry, Loaded, MemoryLayer, NullObserver, ReadThroughCache
from cache.codec import decode_entry, encode_entry
from cache.errors import CacheDecodeError

ENCODINGS = (("br", b"\x1b\x01brotli"), ("gzip", b"\x1f\x8bgzip-bytes"))


def test_the_value_format_round_trips_the_encodings() -> None:
    original = Entry.build(b'{"a":1}' * 50, status=200, now=10.0, ttl=5, encodings=ENCODINGS)
    decoded = decode_entry(encode_entry(original))
    assert decoded == original
    assert decoded.encoded("br") == b"\x1b\x01brotli"
    assert decoded.encoded("gzip") == b"\x1f\x8bgzip-bytes"
    assert decoded.encoded("zstd") is None
    plain = Entry.build(b"{}", status=404, now=10.0, ttl=5)
    assert decode_entry(encode_entry(plain)) == plain


def test_a_truncated_value_is_refused_wherever_it_ends() -> None:
    raw = encode_entry(Entry.build(b"body", status=200, now=1.0, ttl=1, encodings=ENCODINGS))
    # Every cut inside the header, the table, the names or the ETag is detected; a cut in
    # the tail cannot be told from a shorter body, which the byte-exact SET rules out.
    etag_end = raw.index(b"body")
    for cut in range(etag_end):
        with pytest.raises(CacheDecodeError):
            decode_entry(raw[:cut])


def test_a_previous_release_s_value_still_decodes() -> None:
    etag = b'"v1-abc"'
    v1 = struct.pack("!BHddB", 1, 200, 1.0, 2.0, len(etag)) + etag + b'{"old":true}'
    entry = decode_entry(v1)
    assert (entry.body, entry.etag, entry.status, entry.encodings) == (
        b'{"old":true}',
        '"v1-abc"',
        200,
        (),
    )


def test_encodings_count_against_the_memory_budget() -> None:
    body = b"x" * 1000
    plain = MemoryLayer(max_bytes=1 << 20)
    plain.put("k", ("t",), Entry.build(body, status=200, now=0, ttl=9), fresh_until=9, keep_until=9)
    encoded = MemoryLayer(max_bytes=1 << 20)
    encoded.put(
        "k",
        ("t",),
        Entry.build(body, status=200, now=0, ttl=9, encodings=(("br", b"y" * 300),)),
        fresh_until=9,
        keep_until=9,
    )
    # The encoding's bytes, its bytes object's header and its (name, bytes) pair.
    assert 300 < encoded.bytes_used - plain.bytes_used < 450


async def test_a_fill_keeps_what_the_loader_encoded() -> None:
    cache = ReadThroughCache(
        memory=MemoryLayer(max_bytes=1 << 20),
        redis=None,
        observer=NullObserver(),
        fresh_ttl=60,
        stale_window=60,
    )

    async def load() -> Loaded:
        return Loaded(body=b"body", encodings=ENCODINGS)

    filled = await cache.get_or_load("k", ["t"], load)
    hit = cache.peek("k")
    assert hit is not None
    assert filled.entry.encodings == hit.entry.encodings == ENCODINGS
    await cache.aclose()
