"""Path and query parameters: parsed strictly, refused with a clear 4xx."""

from __future__ import annotations

import re

from aiohttp import web
from multidict import MultiMapping

from service import errors
from service.catalog.cachekeys import DEFAULT_PAGE_LIMIT
from service.catalog.listing_filter import (
    MAX_INCOME,
    MAX_LOCATION_CHARS,
    MAX_SKILL_CHARS,
    MAX_SKILLS,
    PERIODS,
    ListingFilter,
    fold,
)
from service.catalog.render import version_from_etag
from service.models.base import is_ref

MAX_CURSOR_CHARS = 1024
DEFAULT_LIMIT = DEFAULT_PAGE_LIMIT
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


FILTER_PARAMS = frozenset(
    ("location", "remote", "skills", "currency", "period", "incomeMin", "incomeMax")
)
_CURRENCY_RE = re.compile(r"^[A-Z]{3}$")
_MAX_INCOME_DIGITS = len(str(MAX_INCOME))


def listing_filter(request: web.Request) -> ListingFilter | None:
    """The filters of a category page (service.catalog.listing_filter says what each means), or None
    when the query names none. Other query parameters are ignored, as they always were."""
    if not request.query_string:
        return None
    query = request.query
    if FILTER_PARAMS.isdisjoint(query):  # iterates the query's few names: ~50 ns
        return None
    location = _single(query, "location")
    if location is not None:
        # Bounds on the text as sent (folding may lengthen it: "ß" becomes "ss").
        if not 0 < len(location.strip()) <= MAX_LOCATION_CHARS:
            raise errors.BadInput(f"location must be 1 to {MAX_LOCATION_CHARS} characters")
        location = fold(location)
    remote = _single(query, "remote")
    if remote not in (None, "true", "false"):
        raise errors.BadInput("remote must be true or false")
    currency = _single(query, "currency")
    if currency is not None and _CURRENCY_RE.match(currency) is None:
        raise errors.BadInput("currency must be an ISO 4217 code of three capital letters")
    period = _single(query, "period")
    if period is not None and period not in PERIODS:
        raise errors.BadInput(f"period must be one of {', '.join(PERIODS)}")
    income_min, income_max = _amount(query, "incomeMin"), _amount(query, "incomeMax")
    if income_min is not None and income_max is not None and income_min > income_max:
        raise errors.BadInput("incomeMin must not exceed incomeMax")
    if (income_min is not None or income_max is not None) and (currency is None or period is None):
        # Amounts in different currencies or periods do not compare; we never convert.
        raise errors.BadInput("incomeMin and incomeMax need currency and period as well")
    return ListingFilter(
        location=location,
        remote=None if remote is None else remote == "true",
        skills=_skills(query),
        currency=currency,
        period=period,
        income_min=income_min,
        income_max=income_max,
    )


def _single(query: MultiMapping[str], name: str) -> str | None:
    values = query.getall(name, ())
    if len(values) > 1:
        raise errors.BadInput(f"{name} may be given once")
    return values[0] if values else None


def _amount(query: MultiMapping[str], name: str) -> int | None:
    raw = _single(query, name)
    if raw is None:
        return None
    if not (raw.isascii() and raw.isdigit() and len(raw) <= _MAX_INCOME_DIGITS):
        raise errors.BadInput(f"{name} must be an integer from 0 to {MAX_INCOME}")
    amount = int(raw)
    if amount > MAX_INCOME:
        raise errors.BadInput(f"{name} must be an integer from 0 to {MAX_INCOME}")
    return amount


def _skills(query: MultiMapping[str]) -> frozenset[str]:
    # Repeated (skills=a&skills=b) or comma-separated (skills=a,b), or both.
    wanted: set[str] = set()
    for value in query.getall("skills", ()):
        for part in value.split(","):
            if not 0 < len(part.strip()) <= MAX_SKILL_CHARS:
                raise errors.BadInput(f"each skill must be 1 to {MAX_SKILL_CHARS} characters")
            wanted.add(fold(part))
            if len(wanted) > MAX_SKILLS:
                raise errors.BadInput(f"at most {MAX_SKILLS} skills may be given")
    return frozenset(wanted)


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
