"""Bodies, their compressed encodings and ETags, rendered once per load: a cache hit sends
these bytes as they are."""

from __future__ import annotations

import gzip
import hashlib
from collections.abc import Sequence

import brotli
import orjson
from pydantic import BaseModel

from cache import Encodings
from service.errors import FieldError

BROTLI = "br"
GZIP = "gzip"
# The content codings made, in the order preferred when a client weighs them equally.
CODINGS: tuple[str, ...] = (BROTLI, GZIP)
# Smaller bodies are sent as they are: a listing (~500 B) would save a couple of hundred
# bytes, less than the headers that announce the coding. CloudFront draws its line here too.
MIN_COMPRESS_BYTES = 1024
# Made on a fill, which a reader may be waiting for: quality 5 compresses a 24 KB page in about
# 0.1 ms; quality 11 (the maximum) takes about 50 ms for some 15% fewer bytes.
BROTLI_QUALITY = 5
GZIP_LEVEL = 6  # zlib's default


def encodings(body: bytes) -> Encodings:
    """`body` in every coding of CODINGS that makes it smaller; none when it is small. Called
    by the loaders, so each encoding of a cached body is made once, when its entry is filled."""
    if len(body) < MIN_COMPRESS_BYTES:
        return ()
    made = ((coding, encode(body, coding)) for coding in CODINGS)
    return tuple((coding, data) for coding, data in made if len(data) < len(body))


def encode(body: bytes, coding: str) -> bytes:
    """`body` in `coding` (one of CODINGS). Deterministic: the same bytes in every instance, so
    the ETag derived for the encoding names the same representation everywhere."""
    if coding == BROTLI:
        data: bytes = brotli.compress(body, quality=BROTLI_QUALITY)
        return data
    if coding == GZIP:
        return gzip.compress(body, compresslevel=GZIP_LEVEL, mtime=0)
    raise ValueError(f"unknown content coding {coding!r}")


def _dumps(value: object) -> bytes:
    """`value` as JSON in a bytes object of its own size. orjson hands back its output buffer,
    which keeps the capacity it grew to: a 471-byte listing holds some 8 KB of heap, and a
    cache of 10,000 of them some 70 MB more than its bodies. A cached body lives for minutes,
    so it is copied once, here, into an object that holds only its bytes."""
    return memoryview(orjson.dumps(value)).tobytes()


def body(model: BaseModel) -> bytes:
    return _dumps(model.model_dump(mode="json", by_alias=True))


def item_list(models: Sequence[BaseModel]) -> bytes:
    return _dumps({"items": [m.model_dump(mode="json", by_alias=True) for m in models]})


def page(models: Sequence[BaseModel], next_cursor: str | None) -> bytes:
    return _dumps(
        {
            "items": [m.model_dump(mode="json", by_alias=True) for m in models],
            "nextCursor": next_cursor,
        }
    )


def page_of_bodies(bodies: Sequence[bytes], next_cursor: str | None) -> bytes:
    """What `page` writes, from items already rendered one by one (the same bytes)."""
    return b"".join(
        (b'{"items":[', b",".join(bodies), b'],"nextCursor":', orjson.dumps(next_cursor), b"}")
    )


def problem_body(
    status: int, title: str, detail: str, *, field_errors: Sequence[FieldError] = ()
) -> bytes:
    """RFC 9457 problem+json: every problem the service answers, whether sent at once
    (service.api.problems) or cached as a negative entry (service.catalog.reads)."""
    problem: dict[str, object] = {
        "type": "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
    }
    if field_errors:
        problem["errors"] = [{"loc": list(e.loc), "msg": e.msg} for e in field_errors]
    return _dumps(problem)


def entity_etag(version: int, payload: bytes) -> str:
    """Strong ETag that names the entity's version (for If-Match) and its exact bytes.

    The version alone is not enough: a category's listing count and a listing's denormalised
    category name change without a version bump, and a 304 must never hide that.
    """
    return f'"v{version}-{hashlib.blake2b(payload, digest_size=8).hexdigest()}"'


def derived_etag(*inputs: str) -> str:
    """A strong ETag for a body computed deterministically from `inputs` and nothing else:
    equal inputs give equal bytes. The first input should name the computation's format."""
    digest = hashlib.blake2b("\0".join(inputs).encode(), digest_size=16).hexdigest()
    return f'"{digest}"'


def version_from_etag(etag: str) -> int | None:
    """The version an If-Match value names, or None when it names none we issued."""
    value = etag.strip()
    if value.startswith("W/") or not (value.startswith('"v') and value.endswith('"')):
        return None
    digits = value[2:-1].split("-", 1)[0]
    return int(digits) if digits.isdigit() and len(digits) <= 12 else None
