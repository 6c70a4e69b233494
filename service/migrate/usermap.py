"""Supabase user id -> Cognito `sub`.

Users sign in through Cognito after the move, and the table keys users by `sub`, so every
profile, admin grant and favourite needs its owner's sub. Two ways to get the mapping:

- a CSV with a header `supabase_id,sub` (what a Cognito user import job or a script that
  created the users can write);
- Cognito itself: every user of the pool is listed (ListUsers, 60 a page) and matched to the
  legacy users by email, case-insensitively, which is how Cognito compares emails when email
  is the sign-in alias. An email held by two Cognito users is ambiguous and maps neither.

A legacy user with no sub is *unmapped*. The transform leaves such users' items out and
counts them per kind; the load refuses to start while any are unmapped unless told
`--allow-unmapped`, because a profile keyed by a Supabase id would never be found by a
signed-in user, and dropping them quietly would lose data.
"""

from __future__ import annotations

import csv
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, cast

from aiobotocore.session import get_session

from service.migrate import rows
from service.models.user import Sub

LIST_USERS_PAGE = 60  # Cognito's maximum
MAX_PAGES = 1_000_000 // LIST_USERS_PAGE + 100


class MappingError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class UserMap:
    subs: Mapping[str, str]

    def sub(self, supabase_id: str) -> str | None:
        return self.subs.get(supabase_id)

    def write_csv(self, path: Path) -> None:
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["supabase_id", "sub"])
            writer.writerows(sorted(self.subs.items()))


def read_csv(path: Path) -> UserMap:
    subs: dict[str, str] = {}
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        if not {"supabase_id", "sub"} <= set(reader.fieldnames or ()):
            raise MappingError(f"{path}: the header must be supabase_id,sub")
        for line, record in enumerate(reader, start=2):
            supabase_id, sub = record["supabase_id"].strip(), record["sub"].strip()
            if not supabase_id or not sub:
                continue  # an explicit "no sub yet": the user stays unmapped and is reported
            if supabase_id in subs and subs[supabase_id] != sub:
                raise MappingError(f"{path} line {line}: {supabase_id} has two subs")
            subs[supabase_id] = sub
    _check_subs(subs.values())
    return UserMap(subs)


def _check_subs(subs: Iterable[str]) -> None:
    from pydantic import TypeAdapter, ValidationError

    adapter = TypeAdapter(Sub)
    seen: set[str] = set()
    for sub in subs:
        try:
            adapter.validate_python(sub)
        except ValidationError as exc:
            raise MappingError(f"not a usable sub: {sub!r}") from exc
        if sub in seen:
            raise MappingError(f"sub {sub!r} is mapped from two Supabase users")
        seen.add(sub)


def match_by_email(users: Iterable[rows.AuthUser], cognito: Mapping[str, str | None]) -> UserMap:
    """`cognito`: lower-cased email -> sub, None where two Cognito users share the email."""
    subs = {}
    for user in users:
        sub = cognito.get(user.email.strip().lower())
        if sub is not None:
            subs[user.id] = sub
    return UserMap(subs)


class _CognitoIdp(Protocol):
    def list_users(self, **kwargs: Any) -> Any: ...


@asynccontextmanager
async def cognito_client(*, region: str, endpoint: str | None) -> AsyncIterator[_CognitoIdp]:
    # An emulator (moto) takes any credentials; AWS gets None: the default chain.
    key = "testing" if endpoint is not None else None
    async with get_session().create_client(
        "cognito-idp",
        region_name=region,
        endpoint_url=endpoint,
        aws_access_key_id=key,
        aws_secret_access_key=key,
    ) as client:
        yield cast(_CognitoIdp, client)


async def cognito_emails(idp: _CognitoIdp, pool_id: str) -> dict[str, str | None]:
    """Every user of the pool: lower-cased email -> sub (None when the email is ambiguous)."""
    found: dict[str, str | None] = {}
    token: str | None = None
    for _ in range(MAX_PAGES):
        kwargs: dict[str, Any] = {"UserPoolId": pool_id, "Limit": LIST_USERS_PAGE}
        if token:
            kwargs["PaginationToken"] = token
        page = await idp.list_users(**kwargs)
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
