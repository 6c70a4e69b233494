"""The Redis value format: a fixed binary header, the ETag, then the body, untouched.

A hit decodes 20 header bytes and slices; the body is never parsed (no JSON on a hit).
Layout (network byte order): version u8, status u16, stored_at f64, fresh_until f64,
etag length u8, etag (ASCII), body.
"""

from __future__ import annotations

import struct

from cache.entry import Entry
from cache.errors import CacheDecodeError

_VERSION = 1
_HEADER = struct.Struct("!BHddB")


def encode_entry(entry: Entry) -> bytes:
    etag = entry.etag.encode("ascii")
    if len(etag) > 255:
        raise ValueError("etag longer than 255 bytes")
    header = _HEADER.pack(_VERSION, entry.status, entry.stored_at, entry.fresh_until, len(etag))
    return b"".join((header, etag, entry.body))


def decode_entry(raw: bytes) -> Entry:
    if len(raw) < _HEADER.size:
        raise CacheDecodeError("value shorter than the header")
    version, status, stored_at, fresh_until, etag_len = _HEADER.unpack_from(raw)
    if version != _VERSION:
        raise CacheDecodeError(f"unknown value format version {version}")
    etag_end = _HEADER.size + etag_len
    if len(raw) < etag_end:
        raise CacheDecodeError("value truncated inside the etag")
    try:
        etag = raw[_HEADER.size : etag_end].decode("ascii")
    except UnicodeDecodeError as exc:
        raise CacheDecodeError("etag is not ASCII") from exc
    return Entry(
        body=raw[etag_end:],
        etag=etag,
        status=status,
        stored_at=stored_at,
        fresh_until=fresh_until,
    )
