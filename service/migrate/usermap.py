"""Supabase user id -> Cognito `sub`, one to one.

Users sign in through Cognito after the move, and the table keys users by `sub`, so every
profile, admin grant and favourite needs its owner's sub. Two ways to get the mapping, which
can be combined:

- a CSV with a header `supabase_id,sub` (what a Cognito user import job or a script that
  created the users can write); a row with an empty sub says "no sub yet": the user stays
  unmapped and is reported;
- Cognito itself: every user of the pool is listed (ListUsers, 60 a page) and matched to the
  legacy users by email, case-insensitively, which is how Cognito compares emails when email
  is the sign-in alias. An email held by two Cognito users is ambiguous and maps neither.
  Given a CSV as well, the CSV decides for the users it names and the pool maps the rest.

A sub is mapped from one Supabase user only, whatever the source: two Supabase users whose
emails differ only in case match the same Cognito user, and giving both that sub would merge
two accounts (one profile overwritten, its favourites moved to the other). Such a *collision*
is never resolved by guessing: the mapping is refused with both users named (`Collision`),
and the operator decides in a CSV which user, if either, that Cognito user is.

A legacy user with no sub is *unmapped*. The transform leaves such users' items out and
counts them per kind; the load refuses to start while any are unmapped unless told
`--allow-unmapped`, because a profile keyed by a Supabase id would never be found by a
signed-in user, and dropping them quietly would lose data.
"""

from __future__ import annotations

import asyncio
import csv
import functools
from collections import defaultdict
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, cast

from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import TypeAdapter, ValidationError

from service.migrate import rows
from service.migrate.errors import TargetError, Unusable
from service.models.user import Sub

LIST_USERS_PAGE = 60  # Cognito's maximum
MAX_PAGES = 1_000_000 // LIST_USERS_PAGE + 100
# Cognito's answers are bounded, and the bound is said: an endpoint that does not answer
# stops the transform within a page's worth of seconds.
COGNITO_CONNECT_TIMEOUT_S = 5.0
COGNITO_READ_TIMEOUT_S = 5.0
COGNITO_PAGE_DEADLINE_S = 15.0
HEADER = ("supabase_id", "sub")


class MappingError(Unusable):
    pass


@dataclass(frozen=True, slots=True)
class Claim:
    supabase_id: str
    how: str  # "email a@example.test", "line 7"


@dataclass(frozen=True, slots=True)
class Collision:
    """One sub that two or more Supabase users would get."""

    sub: str
    claims: tuple[Claim, ...]

    def text(self) -> str:
        users = " and ".join(f"{c.supabase_id} ({c.how})" for c in self.claims)
        return f"sub {self.sub} is mapped from Supabase users {users}"


class CollisionError(MappingError):
    """The mapping would give one Cognito user several Supabase users."""

    SHOWN = 10

    def __init__(self, collisions: Sequence[Collision]) -> None:
        self.collisions = tuple(collisions)
        shown = "; ".join(c.text() for c in self.collisions[: self.SHOWN])
        more = len(self.collisions) - self.SHOWN
        super().__init__(
            f"{len(self.collisions):,} Cognito subs would each be two Supabase users: {shown}"
            + (f"; and {more:,} more" if more > 0 else "")
        )


@dataclass(frozen=True, slots=True)
class UserMap:
    subs: Mapping[str, str]

    def __post_init__(self) -> None:
        claims: dict[str, list[Claim]] = defaultdict(list)
        for supabase_id, sub in self.subs.items():
            claims[sub].append(Claim(supabase_id, "mapped"))
        _refuse_collisions(claims)

    def sub(self, supabase_id: str) -> str | None:
        return self.subs.get(supabase_id)

    def write_csv(self, path: Path) -> None:
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(HEADER)
            writer.writerows(sorted(self.subs.items()))


def _refuse_collisions(claims: Mapping[str, Sequence[Claim]]) -> None:
    found = [Collision(sub, tuple(c)) for sub, c in claims.items() if len(c) > 1]
    if found:
        raise CollisionError(sorted(found, key=lambda c: c.sub))


def read_entries(path: Path) -> dict[str, str | None]:
    """Every row of a mapping CSV: Supabase id -> sub, None where the sub is left empty."""
    entries: dict[str, str | None] = {}
    claims: dict[str, list[Claim]] = defaultdict(list)
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            if tuple(cell.strip() for cell in next(reader, ())) != HEADER:
                raise MappingError(f"{path}: the header must be supabase_id,sub")
            for record in reader:
                line = reader.line_num
                if not record:
                    continue
                if len(record) != len(HEADER):
                    raise MappingError(f"{path} line {line}: {len(record)} fields, not 2")
                supabase_id, sub = (cell.strip() for cell in record)
                if not supabase_id:
                    raise MappingError(f"{path} line {line}: no Supabase id")
                if supabase_id in entries and entries[supabase_id] != (sub or None):
                    raise MappingError(f"{path} line {line}: {supabase_id} has two subs")
                if sub:
                    _check_sub(sub, f"{path} line {line}")
                    if supabase_id not in entries:
                        claims[sub].append(Claim(supabase_id, f"line {line}"))
                entries[supabase_id] = sub or None
    except (csv.Error, UnicodeDecodeError) as exc:
        raise MappingError(f"{path}: not a CSV of supabase_id,sub ({exc})") from exc
    except OSError as exc:
        raise MappingError(f"cannot read the user map {path}: {exc.strerror}") from exc
    _refuse_collisions(claims)
    return entries


def read_csv(path: Path) -> UserMap:
    return UserMap({i: sub for i, sub in read_entries(path).items() if sub is not None})


@functools.cache
def _sub_adapter() -> TypeAdapter[str]:
    return TypeAdapter(Sub)


def _check_sub(sub: str, where: str) -> None:
    try:
        _sub_adapter().validate_python(sub)
    except ValidationError as exc:
        raise MappingError(f"{where}: not a usable sub: {sub!r}") from exc


def match_by_email(
    users: Iterable[rows.AuthUser],
    cognito: Mapping[str, str | None],
    *,
    decided: Mapping[str, str | None] | None = None,
) -> UserMap:
    """`cognito`: lower-cased email -> sub, None where two Cognito users share the email.
    `decided`: what a CSV says for the users it names (None: leave unmapped); the pool maps
    the others. Raises `CollisionError` if any sub would be two users'."""
    decided = decided or {}
    subs = {i: sub for i, sub in decided.items() if sub is not None}
    claims: dict[str, list[Claim]] = defaultdict(list)
    for supabase_id, sub in subs.items():
        claims[sub].append(Claim(supabase_id, "the user map"))
    for user in users:
        if user.id in decided:
            continue
        matched = cognito.get(user.email.strip().lower())
        if matched is not None:
            subs[user.id] = matched
            claims[matched].append(Claim(user.id, f"email {user.email}"))
    _refuse_collisions(claims)
    return UserMap(subs)


class _CognitoIdp(Protocol):
    def list_users(self, **kwargs: Any) -> Any: ...


@asynccontextmanager
async def cognito_client(*, region: str, endpoint: str | None) -> AsyncIterator[_CognitoIdp]:
    # An emulator (moto) takes any credentials; AWS gets None: the default chain.
    key = "testing" if endpoint is not None else None
    config = AioConfig(
        connect_timeout=COGNITO_CONNECT_TIMEOUT_S,
        read_timeout=COGNITO_READ_TIMEOUT_S,
        retries={"total_max_attempts": 2, "mode": "standard"},
    )
    async with get_session().create_client(
        "cognito-idp",
        region_name=region,
        endpoint_url=endpoint,
        aws_access_key_id=key,
        aws_secret_access_key=key,
        config=config,
    ) as client:
        yield cast(_CognitoIdp, client)


async def cognito_emails(
    idp: _CognitoIdp, pool_id: str, *, where: str = "Cognito"
) -> dict[str, str | None]:
    """Every user of the pool: lower-cased email -> sub (None when the email is ambiguous)."""
    found: dict[str, str | None] = {}
    token: str | None = None
    for _ in range(MAX_PAGES):
        kwargs: dict[str, Any] = {"UserPoolId": pool_id, "Limit": LIST_USERS_PAGE}
        if token:
            kwargs["PaginationToken"] = token
        page = await _list_users(idp, kwargs, where=where)
        for user in page.get("Users", []):
            attributes = {a["Name"]: a["Value"] for a in user.get("Attributes", [])}
            email, sub = attributes.get("email"), attributes.get("sub")
            if email and sub:
                key = email.strip().lower()
                found[key] = None if key in found and found[key] != sub else sub
        token = page.get("PaginationToken")
        if not token:
            return found
    raise MappingError(f"ListUsers on {pool_id} did not end within {MAX_PAGES} pages")


async def _list_users(idp: _CognitoIdp, kwargs: dict[str, Any], *, where: str) -> Any:
    pool_id = kwargs["UserPoolId"]
    try:
        async with asyncio.timeout(COGNITO_PAGE_DEADLINE_S):
            return await idp.list_users(**kwargs)
    except TimeoutError as exc:
        raise TargetError(
            f"{where} did not answer ListUsers within {COGNITO_PAGE_DEADLINE_S:g} s"
        ) from exc
    except ClientError as exc:
        error = exc.response.get("Error", {})
        code, message = error.get("Code", "Unknown"), error.get("Message", "")
        if code == "ResourceNotFoundException":
            raise TargetError(f"{where} has no user pool {pool_id} ({message})") from exc
        raise TargetError(f"{where} refused ListUsers on {pool_id}: {code} {message}") from exc
    except BotoCoreError as exc:  # no answer, no connection, no credentials
        raise TargetError(f"{where} did not answer ListUsers on {pool_id}: {exc}") from exc
