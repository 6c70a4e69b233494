"""Request ids: accepted or made, returned on every answer, carried in problem+json and in the
log lines the request writes."""

from __future__ import annotations

import re
from typing import Any

from aiohttp.test_utils import TestClient

from service.api.requestid import HEADER, RequestIds, acceptable, amzn_root
from service.app import create_app
from service.config import Settings
from tests.support.app import AiohttpClient, bearer
from tests.support.logcapture import captured_logs

Client = TestClient[Any, Any]
MADE = re.compile(r"[0-9a-f]{24,}")


def test_what_is_accepted_as_a_request_id() -> None:
    assert acceptable("abc-123_XYZ.4:5/6")
    assert acceptable("x" * 128)
    assert not acceptable("x" * 129)
    assert not acceptable("")
    for bad in ("has space", 'quo"te', "back\\slash", "tab\there", "ünï", "new\nline"):
        assert not acceptable(bad), bad
    root = "1-5759e988-bd862e3fe1be46a994272793"
    assert amzn_root(f"Self=1-67891234-12456789abcdef012345678;Root={root};Sampled=1") == root
    assert amzn_root("Sampled=1") is None


def test_made_ids_are_unique_within_and_across_makers() -> None:
    one, two = RequestIds(), RequestIds()
    made = [one.new() for _ in range(1000)] + [two.new() for _ in range(1000)]
    assert len(set(made)) == 2000
    assert all(MADE.fullmatch(m) for m in made)


async def test_a_clients_id_is_echoed_and_a_bad_one_replaced(client: Client) -> None:
    kept = await client.get("/v1/categories", headers={HEADER: "client-id-42"})
    assert kept.status == 200
    assert kept.headers[HEADER] == "client-id-42"
    for bad in ("x" * 300, "two words", 'a"b'):
        replaced = await client.get("/v1/categories", headers={HEADER: bad})
        assert MADE.fullmatch(replaced.headers[HEADER]), replaced.headers[HEADER]
    root = "1-5759e988-bd862e3fe1be46a994272793"
    traced = await client.get(
        "/v1/categories", headers={"X-Amzn-Trace-Id": f"Root={root};Sampled=0"}
    )
    assert traced.headers[HEADER] == root
    # A client's own id wins over the load balancer's trace id.
    both = await client.get(
        "/v1/categories", headers={HEADER: "mine", "X-Amzn-Trace-Id": f"Root={root}"}
    )
    assert both.headers[HEADER] == "mine"
    made = {(await client.get("/healthz")).headers[HEADER] for _ in range(5)}
    assert len(made) == 5


async def test_every_answer_carries_it_and_problems_name_it_in_the_body(
    client: Client, user_token: str
) -> None:
    answers = [
        await client.get("/v1/listings/no-such-listing"),  # a miss, then a cached negative
        await client.get("/v1/listings/no-such-listing"),
        await client.get("/no/such/route"),
        await client.post("/v1/categories", json={}),  # 405
        await client.get("/v1/me"),  # 401
        await client.get("/v1/me", headers=bearer(user_token + "x")),
        await client.get("/v1/categories?limit=x"),
    ]
    for answer in answers:
        request_id = answer.headers[HEADER]
        assert MADE.fullmatch(request_id)
        if answer.status >= 400:
            assert answer.content_type == "application/problem+json"
            body = await answer.json()
            assert body["requestId"] == request_id
            assert body["status"] == answer.status
    statuses = [a.status for a in answers]
    assert statuses[:5] == [404, 404, 404, 405, 401]
    given = await client.get("/v1/listings/still-none", headers={HEADER: "trace-me"})
    assert (await given.json())["requestId"] == "trace-me"


async def test_the_server_header_names_no_versions(client: Client) -> None:
    for path in ("/v1/categories", "/healthz", "/nope"):
        server = (await client.get(path)).headers["Server"]
        assert server == "hustlehub"
        assert not re.search(r"\d", server)


async def test_log_lines_written_during_a_request_carry_its_id(
    aiohttp_client: AiohttpClient, settings: Settings
) -> None:
    app = create_app(settings.model_copy(update={"access_log": "all"}))
    client = await aiohttp_client(app)
    with captured_logs(level="debug") as lines:
        # A miss: the store's DynamoDB call logs (botocore, at debug) inside the request.
        response = await client.get(
            "/v1/categories/nothing-here-yet", headers={HEADER: "follow-me"}
        )
        assert response.status == 404
    events = lines.events()
    ours = [e for e in events if e.get("request_id") == "follow-me"]
    loggers = {e["logger"] for e in ours}
    assert "hustlehub.access" in loggers
    assert any(name.startswith("botocore") for name in loggers), loggers
    (access,) = [e for e in ours if e["logger"] == "hustlehub.access"]
    assert access["route"] == "/v1/categories/{ref}"
    assert access["status"] == 404
    assert access["dynamodb_calls"] >= 1
