"""A Cognito sub maps from one Supabase user only, whichever source the mapping comes from:
two users whose emails differ only in case match one Cognito user, and the transform refuses
(exit 2) with both named instead of merging their accounts; a user map given with the pool
resolves it, and the load and verify that follow see two accounts, not one."""

from __future__ import annotations

import asyncio
import csv
import json
import uuid
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest

from service.config import Settings
from service.dev.seed.supabase import Scale
from service.migrate import rows
from service.migrate.usermap import CollisionError, UserMap, match_by_email, read_csv
from tests.migrate.conftest import Legacy
from tests.migrate.support import cli, fill, pool_with_users, refusal

pytestmark = [pytest.mark.subprocess]

SCALE = Scale(users=12, listings=4, categories=2, favourites=24, seed=71)


async def _case_twins(pg: asyncpg.Connection) -> tuple[str, str, str]:
    """Two users whose emails differ only in case; returns their ids and the shared email."""
    await fill(pg, SCALE)
    first, second = await pg.fetch(
        "select id::text as id, email from auth.users order by id limit 2"
    )
    email = first["email"]
    for table in ("auth.users", "public.profiles"):
        await pg.execute(
            f"update {table} set email = $1 where id = $2::uuid",  # noqa: S608 - fixed names
            email.upper(), second["id"],
        )  # fmt: skip
    return first["id"], second["id"], email


@pytest.mark.asyncio(loop_scope="session")
async def test_two_users_one_cognito_user_is_refused_then_resolved_by_a_user_map(
    legacy: Legacy, pg: asyncpg.Connection, work: Path, tmp_path: Path, moto_endpoint: str,
    migrate_settings: Settings,
) -> None:  # fmt: skip
    lower, upper, email = await _case_twins(pg)
    emails = [r["email"] for r in await pg.fetch("select email from auth.users")]
    pool_id, subs = await pool_with_users(moto_endpoint, sorted({e.lower() for e in emails}))
    shared = subs[email.lower()]
    argv = ["--dsn", legacy.dsn, "--work", str(work), "--cognito-pool-id", pool_id,
            "--cognito-endpoint", moto_endpoint]  # fmt: skip

    refused = await asyncio.to_thread(cli, migrate_settings, "transform", *argv)
    line = refusal(refused)
    assert f"sub {shared} is mapped from Supabase users" in line
    assert lower in line
    assert upper in line
    assert not (work / "manifest.json").exists()
    assert not (work / "items.jsonl").exists()
    with (work / "collisions.csv").open() as handle:
        listed = list(csv.DictReader(handle))
    assert sorted(r["supabase_id"] for r in listed) == sorted([lower, upper])
    assert {r["sub"] for r in listed} == {shared}

    # The operator decides: the lower-case user is that Cognito user, the other has none yet.
    (tmp_path / "decided.csv").write_text(f"supabase_id,sub\n{lower},{shared}\n{upper},\n")
    resolved = await asyncio.to_thread(
        cli, migrate_settings, "transform", *argv, "--user-map", str(tmp_path / "decided.csv")
    )
    assert resolved.returncode == 0, resolved.stderr
    mapped = read_csv(work / "usermap.csv")
    assert mapped.sub(lower) == shared
    assert mapped.sub(upper) is None
    assert len(set(mapped.subs.values())) == len(mapped.subs) == SCALE.users - 1
    manifest = json.loads((work / "manifest.json").read_text())
    assert manifest["report"]["unmapped_users"] == [upper]

    batch = f"twins-{uuid.uuid4().hex[:6]}"
    loaded = await asyncio.to_thread(
        cli, migrate_settings, "load", "--work", str(work), "--batch", batch, "--allow-unmapped"
    )
    assert loaded.returncode == 0, loaded.stderr
    checked = await asyncio.to_thread(
        cli, migrate_settings, "verify", "--work", str(work), "--batch", batch, "--dsn", legacy.dsn
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    report = json.loads((work / "verify-report.json").read_text())
    assert report["matched"]["User"] == SCALE.users - 1


@pytest.mark.asyncio(loop_scope="session")
async def test_a_user_map_that_gives_a_pool_matched_sub_to_another_user_is_refused(
    legacy: Legacy, pg: asyncpg.Connection, work: Path, tmp_path: Path, moto_endpoint: str,
    migrate_settings: Settings,
) -> None:  # fmt: skip
    await fill(pg, SCALE)
    users = await pg.fetch("select id::text as id, email from auth.users order by id")
    pool_id, subs = await pool_with_users(moto_endpoint, [u["email"] for u in users])
    taken = subs[users[0]["email"].lower()]
    (tmp_path / "map.csv").write_text(f"supabase_id,sub\n{users[1]['id']},{taken}\n")
    done = await asyncio.to_thread(
        cli, migrate_settings, "transform", "--dsn", legacy.dsn, "--work", str(work),
        "--cognito-pool-id", pool_id, "--cognito-endpoint", moto_endpoint,
        "--user-map", str(tmp_path / "map.csv"),
    )  # fmt: skip
    line = refusal(done)
    assert f"{users[0]['id']} (email {users[0]['email']})" in line
    assert f"{users[1]['id']} (the user map)" in line


@pytest.mark.asyncio(loop_scope="session")
async def test_a_csv_that_maps_one_sub_twice_is_refused_with_both_lines(
    legacy: Legacy, pg: asyncpg.Connection, work: Path, tmp_path: Path,
    migrate_settings: Settings,
) -> None:  # fmt: skip
    await fill(pg, SCALE)
    (tmp_path / "map.csv").write_text("supabase_id,sub\na,sub-x\nb,sub-y\nc,sub-x\n")
    for step in (["transform"], ["verify", "--batch", "b"]):
        done = await asyncio.to_thread(
            cli, migrate_settings, *step, "--dsn", legacy.dsn, "--work", str(work),
            "--user-map", str(tmp_path / "map.csv"),
        )  # fmt: skip
        assert "sub sub-x is mapped from Supabase users a (line 2) and c (line 4)" in refusal(done)


def test_no_mapping_gives_one_sub_to_two_users() -> None:
    with pytest.raises(CollisionError, match="sub s is mapped from Supabase users a"):
        UserMap({"a": "s", "b": "s"})
    at = datetime(2024, 1, 1, tzinfo=UTC)
    twins = [rows.AuthUser("a", "Ann@Example.test", at), rows.AuthUser("b", "ann@example.test", at)]
    with pytest.raises(CollisionError) as raised:
        match_by_email(twins, {"ann@example.test": "sub-ann"})
    (collision,) = raised.value.collisions
    assert collision.sub == "sub-ann"
    assert [c.supabase_id for c in collision.claims] == ["a", "b"]
    decided = match_by_email(twins, {"ann@example.test": "sub-ann"}, decided={"b": None})
    assert decided == UserMap({"a": "sub-ann"})
