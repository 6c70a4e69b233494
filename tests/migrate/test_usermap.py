"""Supabase user id -> Cognito sub, from a CSV or from Cognito's ListUsers by email (moto's
Cognito over HTTP); unmapped users are reported and block the load unless allowed."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

import asyncpg
import pytest

from service.config import Settings
from service.dev.seed.supabase import Scale
from service.migrate.usermap import MappingError, UserMap, read_csv
from tests.migrate.conftest import Legacy
from tests.migrate.support import cli, fill, pool_with_users

SCALE = Scale(users=90, listings=10, categories=2, favourites=180, seed=31)


@pytest.mark.asyncio(loop_scope="session")
@pytest.mark.subprocess  # runs `hustlehub migrate` as a child process
async def test_cognito_mapping_by_email_reports_and_blocks_on_unmapped_users(
    legacy: Legacy, pg: asyncpg.Connection, work: Path, moto_endpoint: str,
    migrate_settings: Settings,
) -> None:  # fmt: skip
    await fill(pg, SCALE)
    users = await pg.fetch("select id::text as id, email from auth.users order by id")
    # 85 of the 90 have a Cognito user (more than one ListUsers page of 60), some with their
    # email in another case, as Cognito may hold it; 5 have none.
    signed_up = [u["email"].upper() if n % 7 == 0 else u["email"] for n, u in enumerate(users[:85])]
    pool_id, subs = await pool_with_users(moto_endpoint, signed_up)
    argv = ["transform", "--dsn", legacy.dsn, "--work", str(work), "--cognito-pool-id", pool_id,
            "--cognito-endpoint", moto_endpoint]  # fmt: skip
    done = await asyncio.to_thread(cli, migrate_settings, *argv)
    assert done.returncode == 0, done.stderr
    assert "5 unmapped users" in done.stderr
    manifest = json.loads((work / "manifest.json").read_text())
    assert manifest["report"]["unmapped_count"] == 5
    assert sorted(manifest["report"]["unmapped_users"]) == sorted(u["id"] for u in users[85:])
    assert manifest["report"]["left_out"]["public.profiles"] == 5
    mapped = read_csv(work / "usermap.csv")
    assert dict(mapped.subs) == {u["id"]: subs[u["email"].lower()] for u in users[:85]}

    batch = f"map-{uuid.uuid4().hex[:6]}"
    refused = await asyncio.to_thread(
        cli, migrate_settings, "load", "--work", str(work), "--batch", batch
    )
    assert refused.returncode == 2
    assert "5 users have no Cognito sub" in refused.stderr
    assert not (work / "checkpoint.json").exists()  # nothing was written

    allowed = await asyncio.to_thread(
        cli, migrate_settings, "load", "--work", str(work), "--batch", batch, "--allow-unmapped"
    )
    assert allowed.returncode == 0, allowed.stderr
    checked = await asyncio.to_thread(
        cli, migrate_settings, "verify", "--work", str(work), "--batch", batch, "--dsn", legacy.dsn
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "unmapped users (not migrated): 5" in checked.stdout
    report = json.loads((work / "verify-report.json").read_text())
    assert report["unmapped_users"] == 5
    assert report["matched"]["User"] == 85


def test_a_mapping_csv_is_read_and_checked(tmp_path: Path) -> None:
    good = tmp_path / "good.csv"
    good.write_text("supabase_id,sub\na,sub-a\nb,\nc,sub-c\n")
    assert read_csv(good) == UserMap({"a": "sub-a", "c": "sub-c"})  # b: explicitly unmapped
    for name, text in {
        "header": "id,cognito\na,sub-a\n",
        "shared": "supabase_id,sub\na,sub-x\nb,sub-x\n",
        "two": "supabase_id,sub\na,sub-1\na,sub-2\n",
        "unusable": "supabase_id,sub\na,has space\n",
    }.items():
        path = tmp_path / f"{name}.csv"
        path.write_text(text)
        with pytest.raises(MappingError):
            read_csv(path)
