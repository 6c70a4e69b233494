"""Turning a cache lookup into a response: the stored bytes go out as they are.

This is the hot path of every cached read, so what repeats is computed once: the head of a
fresh answer depends only on (ETag, cache layer, Cache-Control, Vary, content coding), and is
memoised serialised, so a fresh answer goes out as one buffer (service.api.prepared); a 304's
header set is memoised as an immutable mapping that aiohttp copies into each response. The
body is the entry's own or one of the encodings stored with it (made when the entry was
filled), chosen from Accept-Encoding (service.api.encoding); every public read says
`Vary: Accept-Encoding`, and each representation has an ETag of its own, so a 304 confirms
only the bytes asked about.
"""

from __future__ import annotations

from functools import lru_cache

from aiohttp import hdrs, web
from multidict import CIMultiDict, CIMultiDictProxy

from cache import Entry, Lookup, Source
from service.api.encoding import preferred, representation_etag
from service.api.prepared import Prepared, head
from service.api.problems import PROBLEM_TYPE
from service.catalog import render

_JSON = "application/json"
# What every public read varies by; with CORS, Origin too (`public_vary`).
VARY = "Accept-Encoding"
# Bounded: one entry per cached representation (ETag) and layer; a miss only costs a rebuild.
# A set takes about 1.2 KB, outside the in-process budget: 4,096 of them are ~5 MB a process
# (32,768 were ~40 MB, more than a small budget itself).
_HEADER_SETS = 4_096


def etag_matches(if_none_match: str, etag: str) -> bool:
    # Weak comparison, as RFC 9110 prescribes for If-None-Match.
    if if_none_match.strip() == "*":
        return True
    strong = etag.removeprefix("W/")
    return any(
        candidate.strip().removeprefix("W/") == strong for candidate in if_none_match.split(",")
    )


@lru_cache(maxsize=_HEADER_SETS)
def _not_modified_headers(
    etag: str, source: str, cache_control: str, coding: str | None
) -> CIMultiDictProxy[str]:
    # Positional parameters only: lru_cache builds its key faster without keywords. `etag` is
    # the entry's; the representation's is derived here, once per memoised set. A 304 carries
    # no Content-Type (and CORS adds its Vary to it, as to any response).
    if coding is not None:
        etag = representation_etag(etag, coding)
    headers = CIMultiDict(
        {"Cache-Control": cache_control, "X-Cache": source, "ETag": etag, "Vary": VARY}
    )
    return CIMultiDictProxy(headers)


@lru_cache(maxsize=_HEADER_SETS)
def _fresh_head(
    etag: str, source: str, cache_control: str, vary: str, coding: str | None, length: int
) -> bytes:
    # Positional parameters only, as above; `length` is the representation's, fixed by its ETag.
    fields = {"Cache-Control": cache_control, "X-Cache": source, "Vary": vary}
    fields["ETag"] = etag if coding is None else representation_etag(etag, coding)
    fields["Content-Type"] = _JSON
    if coding is not None:
        fields["Content-Encoding"] = coding
    return head(fields, length)


def _stored(accept: str, entry: Entry) -> tuple[str, bytes] | None:
    """The stored encoding the client prefers (`accept`, its Accept-Encoding) to the body as it
    is, with its coding."""
    for coding in preferred(accept):
        data = entry.encoded(coding)
        if data is not None:
            return coding, data
    return None


# A module constant: an enum member looked up on its class costs a Python call (3.11).
_STALE = Source.STALE


def cached(
    request: web.Request, lookup: Lookup, *, cache_control: str, vary: str = VARY
) -> web.StreamResponse:
    """A cached entry's answer: `vary` is every public read's Vary (public_vary)."""
    entry = lookup.entry
    source = lookup.source
    if source is _STALE or entry.status != 200:
        return _uncommon(request, lookup, cache_control)
    coding: str | None = None
    body = entry.body
    headers = request.headers
    # A reader that sends no Accept-Encoding (wrk, many API clients) is settled by the one
    # header lookup, without a call.
    if entry.encodings and (accept := headers.get(hdrs.ACCEPT_ENCODING)):
        chosen = _stored(accept, entry)
        if chosen is not None:
            coding, body = chosen
    inm = headers.get(hdrs.IF_NONE_MATCH)
    if inm is not None:
        etag = entry.etag if coding is None else representation_etag(entry.etag, coding)
        # The exact echo of our ETag is what clients send: settle it without parsing.
        if inm == etag or etag_matches(inm, etag):
            return web.Response(
                status=304, headers=_not_modified_headers(entry.etag, source, cache_control, coding)
            )
    return Prepared(
        _fresh_head(entry.etag, source, cache_control, vary, coding, len(body)), body, source
    )


def computed(request: web.Request, lookup: Lookup, *, cache_control: str) -> web.Response:
    """An answer computed per request from a cached entry (a filtered page). Its headers are
    built each time, not memoised: distinct filters make distinct ETags without bound, and
    they must not push the hot answers' header sets out of the memo. Nothing is stored to
    reuse, so its body is compressed here, in the one coding the client gets."""
    return _uncommon(request, lookup, cache_control, compress=True)


def _uncommon(
    request: web.Request, lookup: Lookup, cache_control: str, *, compress: bool = False
) -> web.Response:
    """Stale copies (with their Age), negative entries and computed answers: built per
    request."""
    entry = lookup.entry
    headers = {"Cache-Control": cache_control, "X-Cache": lookup.source.value, "Vary": VARY}
    if lookup.source is Source.STALE:
        headers["Age"] = str(int(lookup.age))
    if entry.status != 200:
        return web.Response(
            status=entry.status, body=entry.body, content_type=PROBLEM_TYPE, headers=headers
        )
    body, etag, coding = entry.body, entry.etag, None
    if compress:
        coding = _wanted(request) if len(body) >= render.MIN_COMPRESS_BYTES else None
    elif accept := request.headers.get(hdrs.ACCEPT_ENCODING):
        chosen = _stored(accept, entry)
        if chosen is not None:
            coding, body = chosen
    if coding is not None:
        etag = representation_etag(etag, coding)
    headers["ETag"] = etag
    inm = request.headers.get(hdrs.IF_NONE_MATCH)
    if inm is not None and etag_matches(inm, etag):
        return web.Response(status=304, headers=headers)
    if coding is not None:
        headers["Content-Encoding"] = coding
        if compress:
            body = render.encode(body, coding)  # only now: a 304 needs no body
    return web.Response(body=body, content_type=_JSON, headers=headers)


def _wanted(request: web.Request) -> str | None:
    accept = request.headers.get(hdrs.ACCEPT_ENCODING)
    codings = preferred(accept) if accept else ()
    return codings[0] if codings else None


def public_vary(*, origin: bool) -> str:
    """The Vary of every public read: Origin too when CORS answers depend on it."""
    return f"{VARY}, Origin" if origin else VARY


def public_cache_control(max_age: int) -> str:
    # A CDN may keep a public read for max_age seconds; past that it must come back to us,
    # and it may serve its copy while we are failing (stale-if-error, RFC 5861).
    return f"public, max-age={max_age}, stale-if-error=300"
