"""Path and query parameters: parsed strictly, refused with a clear 4xx."""

from __future__ import annotations

import re

from aiohttp import web

from service import errors
from service.models.base import is_ref
from service.render import version_from_etag

MAX_CURSOR_CHARS = 1024
DEFAULT_LIMIT = 50
MAX_LIMIT = 100


def ref(request: web.Request, name: str = "ref") -> str:
    """An id or slug from the path; anything else cannot name an entity, so it is a 404."""
    value = request.match_info[name]
    if not is_ref(value):
        raise errors.NotFound(f"no entity has the id or slug {value[:80]!r}")
    return value


def page(request: web.Request) -> tuple[int, str | None]:
    if not request.query_string:
        # The common first page: no query to parse (request.query builds a MultiDict).
        return DEFAULT_LIMIT, None
    raw_limit = request.query.get("limit")
    if raw_limit is None:
        limit = DEFAULT_LIMIT
    else:
        if not raw_limit.isascii() or not raw_limit.isdigit() or len(raw_limit) > 3:
            raise errors.BadInput(f"limit must be an integer from 1 to {MAX_LIMIT}")
        limit = int(raw_limit)
        if not 1 <= limit <= MAX_LIMIT:
            raise errors.BadInput(f"limit must be an integer from 1 to {MAX_LIMIT}")
    cursor = request.query.get("cursor")
    if cursor is not None and (not cursor or len(cursor) > MAX_CURSOR_CHARS):
        raise errors.BadInput("cursor is not a cursor this service issued")
    return limit, cursor


def expected_version(request: web.Request) -> int:
    """The version named by If-Match: 428 without one, 412 for one we never issued."""
    header = request.headers.get("If-Match")
    if header is None or not header.strip():
        raise errors.PreconditionRequired("If-Match with the entity's ETag is required")
    version = version_from_etag(header)
    if version is None:
        raise errors.VersionMismatch("If-Match does not name a current version of this entity")
    return version


_SUB_RE = re.compile(r"^[A-Za-z0-9_.:@-]{1,128}$")


def sub(request: web.Request) -> str:
    value = request.match_info["sub"]
    if _SUB_RE.match(value) is None:
        raise errors.NotFound("no user has that sub")
    return value
