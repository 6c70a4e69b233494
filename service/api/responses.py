"""Turning a cache lookup into a response: the stored bytes go out as they are.

This is the hot path of every cached read, so what repeats is computed once: the header set
of a fresh answer depends only on (ETag, cache layer, Cache-Control), and is memoised as an
immutable mapping that aiohttp copies into each response.
"""

from __future__ import annotations

from functools import lru_cache

from aiohttp import hdrs, web
from multidict import CIMultiDict, CIMultiDictProxy

from cache import Lookup, Source
from service.api.problems import PROBLEM_TYPE

_JSON = "application/json"
# Bounded: one entry per cached body (ETag) and layer; a miss only costs a rebuild.
_HEADER_SETS = 32_768


def etag_matches(if_none_match: str, etag: str) -> bool:
    # Weak comparison, as RFC 9110 prescribes for If-None-Match.
    if if_none_match.strip() == "*":
        return True
    strong = etag.removeprefix("W/")
    return any(
        candidate.strip().removeprefix("W/") == strong for candidate in if_none_match.split(",")
    )


@lru_cache(maxsize=_HEADER_SETS)
def _fresh_headers(etag: str, source: str, cache_control: str, body: bool) -> CIMultiDictProxy[str]:
    # Positional parameters only: lru_cache builds its key faster without keywords.
    headers = CIMultiDict({"Cache-Control": cache_control, "X-Cache": source, "ETag": etag})
    if body:
        # As aiohttp would set it from content_type=; a 304 carries no Content-Type.
        headers["Content-Type"] = _JSON
    return CIMultiDictProxy(headers)


def cached(request: web.Request, lookup: Lookup, *, cache_control: str) -> web.Response:
    entry = lookup.entry
    source = lookup.source
    if source is Source.STALE or entry.status != 200:
        return _uncommon(request, lookup, cache_control)
    inm = request.headers.get(hdrs.IF_NONE_MATCH)
    # The exact echo of our ETag is what clients send: settle it without parsing.
    if inm is not None and (inm == entry.etag or etag_matches(inm, entry.etag)):
        return web.Response(
            status=304, headers=_fresh_headers(entry.etag, source, cache_control, False)
        )
    return web.Response(
        body=entry.body, headers=_fresh_headers(entry.etag, source, cache_control, True)
    )


def computed(request: web.Request, lookup: Lookup, *, cache_control: str) -> web.Response:
    """An answer computed per request from a cached entry (a filtered page). Its headers are
    built each time, not memoised: distinct filters make distinct ETags without bound, and
    they must not push the hot answers' header sets out of the memo."""
    return _uncommon(request, lookup, cache_control)


def _uncommon(request: web.Request, lookup: Lookup, cache_control: str) -> web.Response:
    """Stale copies (with their Age) and negative entries: built per request."""
    entry = lookup.entry
    headers = {"Cache-Control": cache_control, "X-Cache": lookup.source.value}
    if lookup.source is Source.STALE:
        headers["Age"] = str(int(lookup.age))
    if entry.status != 200:
        return web.Response(
            status=entry.status, body=entry.body, content_type=PROBLEM_TYPE, headers=headers
        )
    headers["ETag"] = entry.etag
    inm = request.headers.get(hdrs.IF_NONE_MATCH)
    if inm is not None and etag_matches(inm, entry.etag):
        return web.Response(status=304, headers=headers)
    return web.Response(body=entry.body, content_type=_JSON, headers=headers)


def public_cache_control(max_age: int) -> str:
    # A CDN may keep a public read for max_age seconds; past that it must come back to us,
    # and it may serve its copy while we are failing (stale-if-error, RFC 5861).
    return f"public, max-age={max_age}, stale-if-error=300"
