"""What a filtered category page asks for, and which listings it matches.

The semantics, in one place (the OpenAPI document and the README repeat them):
- `location`: the listing's location contains the text, compared case-insensitively
  (Unicode casefolding, surrounding whitespace ignored).
- `remote`: the listing's `remote` flag equals it.
- `skills`: all of them (a user narrowing a search adds skills to get fewer results); each is
  compared case-insensitively with the listing's skills as whole values, not substrings.
- `currency`, `period`: the listing's incomePotential is in that currency / per that period.
- `incomeMin`, `incomeMax`: the listing's range [min, max] overlaps the asked range, i.e.
  `max >= incomeMin` and `min <= incomeMax`. Amounts are never converted, so a bound needs
  both `currency` and `period`, and only listings in that currency and period can match.

Every bound below is checked by `service.api.params` and stated in the OpenAPI document.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import get_args

import orjson

from service.models.listing import Period

MAX_LOCATION_CHARS = 120  # as Listing.location
MAX_SKILL_CHARS = 40  # as a Listing skill
MAX_SKILLS = 10
MAX_INCOME = 100_000_000  # as IncomePotential's amounts
PERIODS: tuple[str, ...] = get_args(Period)


@dataclass(frozen=True, slots=True)
class Row:
    """One listing of a category as a filter sees it, with its ready-to-send JSON."""

    sort_key: str  # createdAt#id: the order of the page (newest first) and of cursors
    body: bytes
    location: str  # casefolded
    remote: bool
    skills: frozenset[str]  # casefolded
    income_min: int
    income_max: int
    currency: str
    period: str


@dataclass(frozen=True, slots=True)
class ListingFilter:
    location: str | None = None  # casefolded and stripped
    remote: bool | None = None
    skills: frozenset[str] = frozenset()  # casefolded and stripped
    currency: str | None = None
    period: str | None = None
    income_min: int | None = None
    income_max: int | None = None

    def canonical(self) -> str:
        """One string per distinct filter, whatever order or case the query used: cursors
        are bound to it, so a cursor of one filter is refused under another."""
        return orjson.dumps(
            [
                self.location,
                self.remote,
                sorted(self.skills),
                self.currency,
                self.period,
                self.income_min,
                self.income_max,
            ]
        ).decode()

    def matches(self, row: Row) -> bool:
        if self.remote is not None and row.remote is not self.remote:
            return False
        if self.location is not None and self.location not in row.location:
            return False
        if self.skills and not self.skills <= row.skills:
            return False
        if self.currency is not None and row.currency != self.currency:
            return False
        if self.period is not None and row.period != self.period:
            return False
        if self.income_min is not None and row.income_max < self.income_min:
            return False
        return self.income_max is None or row.income_min <= self.income_max


def fold(text: str) -> str:
    return text.strip().casefold()
