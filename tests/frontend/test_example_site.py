"""Dev mode's example site: the page's own files and its config, nothing else of clients/web;
a port of its own, or a free one when that is taken."""

from __future__ import annotations

import socket
from typing import Any

from aiohttp.test_utils import TestClient

from service.dev.example import FILES, PoolRef, bind_example, example_app, origins
from tests.support.app import AiohttpClient

POOL = PoolRef("http://127.0.0.1:5000", "us-east-1", "client-id")


async def test_only_the_page_and_its_config_are_served(aiohttp_client: AiohttpClient) -> None:
    client: TestClient[Any, Any] = await aiohttp_client(example_app(api_port=8080, pool=POOL))
    for name, content_type in FILES.items():
        response = await client.get(f"/{name}")
        assert response.status == 200, name
        assert response.content_type == content_type
    assert (await client.get("/")).content_type == "text/html"
    for other in ("package.json", "package-lock.json", "tsconfig.json", "node_modules/x"):
        assert (await client.get(f"/{other}")).status == 404, other
    config = await (await client.get("/config.json", headers={"Host": "localhost:8081"})).json()
    # The API on the host name the page was reached by: another origin, one CORS allows.
    assert config == {
        "apiBase": "http://localhost:8080",
        "cognito": {"endpoint": POOL.endpoint, "region": "us-east-1", "clientId": "client-id"},
    }


def test_a_taken_port_falls_back_to_a_free_one() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        with bind_example("127.0.0.1", port) as sock:
            assert sock.getsockname()[1] not in (port, 0)


def test_dev_mode_allows_the_page_by_name_and_by_address() -> None:
    # localhost and 127.0.0.1 are two origins; a developer may type either.
    assert origins("127.0.0.1", 8081) == ("http://127.0.0.1:8081", "http://localhost:8081")
    assert origins("192.0.2.7", 8081) == ("http://192.0.2.7:8081",)
