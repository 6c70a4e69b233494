"""The Redis value format: a fixed binary header, the encodings' table, the ETag, the body,
then each encoding of the body, all untouched.

A hit decodes the header and slices; no body is parsed (no JSON on a hit) or recompressed.
Layout (network byte order): version u8, status u16, stored_at f64, fresh_until f64,
etag length u8, encoding count u8; per encoding, its name's length u8 and its length u32, then
its name (ASCII); the etag (ASCII); the body; the encodings' bytes in table order.

Version 1 (no encodings, no count) is still read: values a previous release stored stay hits
through a rolling deploy. A previous release reads a version 2 value as undecodable, which it
counts and treats as a miss.
"""

from __future__ import annotations

import struct

from cache.entry import Entry
from cache.errors import CacheDecodeError

_VERSION = 2
_V1 = 1
_HEADER = struct.Struct("!BHddBB")
_HEADER_V1 = struct.Struct("!BHddB")
_ENCODING = struct.Struct("!BI")


def encode_entry(entry: Entry) -> bytes:
    etag = entry.etag.encode("ascii")
    if len(etag) > 255:
        raise ValueError("etag longer than 255 bytes")
    if len(entry.encodings) > 255:
        raise ValueError("more than 255 encodings")
    header = _HEADER.pack(
        _VERSION,
        entry.status,
        entry.stored_at,
        entry.fresh_until,
        len(etag),
        len(entry.encodings),
    )
    table: list[bytes] = []
    names: list[bytes] = []
    for name, data in entry.encodings:
        coded = name.encode("ascii")
        if not 0 < len(coded) <= 255:
            raise ValueError(f"encoding name {name!r}: 1 to 255 ASCII bytes")
        table.append(_ENCODING.pack(len(coded), len(data)))
        names.append(coded)
    return b"".join(
        (header, *table, *names, etag, entry.body, *(data for _, data in entry.encodings))
    )


def decode_entry(raw: bytes) -> Entry:
    if not raw:
        raise CacheDecodeError("empty value")
    if raw[0] == _V1:
        return _decode_v1(raw)
    if len(raw) < _HEADER.size:
        raise CacheDecodeError("value shorter than the header")
    version, status, stored_at, fresh_until, etag_len, count = _HEADER.unpack_from(raw)
    if version != _VERSION:
        raise CacheDecodeError(f"unknown value format version {version}")
    at = _HEADER.size
    if len(raw) < at + count * _ENCODING.size:
        raise CacheDecodeError("value truncated inside the encodings' table")
    lengths = [_ENCODING.unpack_from(raw, at + i * _ENCODING.size) for i in range(count)]
    at += count * _ENCODING.size
    names: list[str] = []
    for name_len, _ in lengths:
        names.append(_ascii(raw, at, at + name_len, "encoding name"))
        at += name_len
    etag = _ascii(raw, at, at + etag_len, "etag")
    at += etag_len
    body_end = len(raw) - sum(length for _, length in lengths)
    if body_end < at:
        raise CacheDecodeError("value truncated inside the encodings")
    body = raw[at:body_end]
    encodings: list[tuple[str, bytes]] = []
    at = body_end
    for name, (_, length) in zip(names, lengths, strict=True):
        encodings.append((name, raw[at : at + length]))
        at += length
    return Entry(
        body=body,
        etag=etag,
        status=status,
        stored_at=stored_at,
        fresh_until=fresh_until,
        encodings=tuple(encodings),
    )


def _ascii(raw: bytes, start: int, end: int, what: str) -> str:
    if len(raw) < end:
        raise CacheDecodeError(f"value truncated inside the {what}")
    try:
        return raw[start:end].decode("ascii")
    except UnicodeDecodeError as exc:
        raise CacheDecodeError(f"{what} is not ASCII") from exc


def _decode_v1(raw: bytes) -> Entry:
    if len(raw) < _HEADER_V1.size:
        raise CacheDecodeError("value shorter than the header")
    _, status, stored_at, fresh_until, etag_len = _HEADER_V1.unpack_from(raw)
    etag_end = _HEADER_V1.size + etag_len
    etag = _ascii(raw, _HEADER_V1.size, etag_end, "etag")
    return Entry(
        body=raw[etag_end:], etag=etag, status=status, stored_at=stored_at, fresh_until=fresh_until
    )
