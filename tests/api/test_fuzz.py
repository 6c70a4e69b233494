"""schemathesis against the service's own /openapi.json: every operation, with and without a
token; 0 server errors and 0 responses outside the documented schema."""

from __future__ import annotations

import asyncio
import sys
import uuid
from pathlib import Path

import pytest

from service.runtime.appkeys import STORES
from tests.support.app import AiohttpClient, make_settings
from tests.support.service_process import service_process, settings_env
from tests.support.tokens import CLIENT_ID, POOL_ID, TokenMint

# The test body starts the service (caching in the machine's Redis) and schemathesis as child
# processes, where no fixture can mark it.
pytestmark = [pytest.mark.subprocess, pytest.mark.redis]

CHECKS = ",".join(
    (
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_headers_conformance",
        "response_schema_conformance",
    )
)


async def _schemathesis(base_url: str, report: Path, *headers: str) -> tuple[int, str]:
    argv = [
        sys.executable, "-m", "schemathesis.cli", "run", f"{base_url}/openapi.json",
        "--checks", CHECKS, "--max-examples", "25", "--seed", "20261125",
        "--phases", "examples,coverage,fuzzing", "--generation-database", "none",
        "--workers", "2", "--request-timeout", "10", "--no-color",
        "--report", "junit", "--report-junit-path", str(report),
    ]  # fmt: skip
    for header in headers:
        argv += ["--header", header]
    proc = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    out, _ = await asyncio.wait_for(proc.communicate(), timeout=600)
    return proc.returncode or 0, out.decode(errors="replace")


@pytest.mark.timeout(900)
async def test_fuzzing_finds_no_server_error_and_no_schema_violation(
    moto_endpoint: str,
    api_table: str,
    mint: TokenMint,
    aiohttp_client: AiohttpClient,
    tmp_path: Path,
) -> None:
    from service.app import create_app

    admin_sub = f"fuzz-admin-{uuid.uuid4()}"
    setup = await aiohttp_client(create_app(make_settings(moto_endpoint, api_table, mint)))
    await setup.app[STORES].users.grant_admin(admin_sub, actor="test-setup")
    env = settings_env(
        endpoint=moto_endpoint, table=api_table, jwks_url=mint.jwks_url, pool_id=POOL_ID,
        client_id=CLIENT_ID, prefix=f"hh-fuzz-{uuid.uuid4().hex[:8]}",
    )  # fmt: skip
    async with service_process(env) as service:
        anonymous = await _schemathesis(service.base_url, tmp_path / "anonymous.xml")
        admin = await _schemathesis(
            service.base_url,
            tmp_path / "admin.xml",
            f"Authorization: Bearer {mint.token(admin_sub)}",
        )
    for name, (code, output) in (("anonymous", anonymous), ("admin", admin)):
        assert code == 0, f"schemathesis ({name}) found problems:\n{output[-6000:]}"
        assert "operations" in output.lower() or "passed" in output.lower()
