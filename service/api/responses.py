"""Turning a cache lookup into a response: the stored bytes go out as they are."""

from __future__ import annotations

from aiohttp import web

from cache.entry import Lookup, Source
from service.api.problems import PROBLEM_TYPE


def etag_matches(if_none_match: str, etag: str) -> bool:
    # Weak comparison, as RFC 9110 prescribes for If-None-Match.
    if if_none_match.strip() == "*":
        return True
    strong = etag.removeprefix("W/")
    return any(
        candidate.strip().removeprefix("W/") == strong for candidate in if_none_match.split(",")
    )


def cached(request: web.Request, lookup: Lookup, *, cache_control: str) -> web.Response:
    entry = lookup.entry
    headers = {"Cache-Control": cache_control, "X-Cache": lookup.source.value}
    if lookup.source is Source.STALE:
        headers["Age"] = str(int(lookup.age))
    if entry.status != 200:
        return web.Response(
            status=entry.status, body=entry.body, content_type=PROBLEM_TYPE, headers=headers
        )
    headers["ETag"] = entry.etag
    inm = request.headers.get("If-None-Match")
    if inm is not None and etag_matches(inm, entry.etag):
        return web.Response(status=304, headers=headers)
    return web.Response(body=entry.body, content_type="application/json", headers=headers)


def public_cache_control(max_age: int) -> str:
    # A CDN may keep a public read for max_age seconds; past that it must come back to us,
    # and it may serve its copy while we are failing (stale-if-error, RFC 5861).
    return f"public, max-age={max_age}, stale-if-error=300"
