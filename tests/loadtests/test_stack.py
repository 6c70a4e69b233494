"""The load tests' stack, from outside: dev mode as a child process, a `hustlehub serve` on it,
the dev users signed in over HTTP against moto's Cognito, and everything stopped afterwards."""

from __future__ import annotations

import urllib.error
import urllib.request
from pathlib import Path

import pytest

from loadtests import fixture as fixtures
from loadtests import stack

# Dev mode runs as a child process with its own moto server and the local Redis.
pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(300),
    pytest.mark.subprocess,
    pytest.mark.redis,
    pytest.mark.dynamodb,
]


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2):
            return True
    except urllib.error.HTTPError:
        return True  # an answer all the same
    except OSError:
        return False


def test_dev_stack_serves_signs_in_over_http_and_stops(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # var/ of the test's own: dev mode's state file and the logs go there.
    monkeypatch.chdir(tmp_path)
    with stack.dev_stack() as stk, stack.service(stk) as svc:
        dev = fixtures.DevState.read(stk.state)
        assert stk.env["HUSTLEHUB_DYNAMODB_ENDPOINT"] == dev.dynamodb_endpoint
        users, admins = fixtures.dev_tokens(extra_users=2, state=stk.state)
        assert (len(users), len(admins)) == (3, 1)  # demo + 2 added; the demo admin
        # Again on the same pool: the users added the first time are signed in anew.
        again, _ = fixtures.dev_tokens(extra_users=2, state=stk.state)
        assert len(again) == 3
        # The service trusts the tokens: profiles are made, the demo data is there to crawl.
        built = fixtures.build(svc.base_url, users=users, admins=admins)
        assert built["categories"]
        assert built["listings"]
        audit = f"{svc.base_url}/v1/admin/audit"
        assert fixtures.http("GET", audit, token=admins[0])[0] == 200
        assert fixtures.http("GET", audit, token=users[0])[0] == 403
        base_url = svc.base_url
    assert not _answers(f"{base_url}/healthz")
    assert not _answers(f"{stk.dev_url}/healthz")
    assert not _answers(f"{dev.endpoint}/moto-api/")
