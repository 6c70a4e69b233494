"""Dev mode's private Redis: when the configured Redis does not answer and redis-server is
installed, one is started on a port of its own, bound to loopback, and stopped afterwards."""

from __future__ import annotations

import shutil
from urllib.parse import urlsplit

import pytest
import redis

from service.config import Settings
from service.dev.devmode import local_redis
from service.dev.devserver import free_port

pytestmark = [pytest.mark.redis, pytest.mark.subprocess]


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server not installed")
def test_a_private_redis_starts_on_its_own_loopback_port_when_none_answers() -> None:
    dead = free_port()
    settings = Settings(mode="dev", redis_url=f"redis://127.0.0.1:{dead}/0")
    with local_redis(settings) as url:
        assert url is not None
        where = urlsplit(url)
        assert where.hostname == "127.0.0.1"
        assert where.port not in (dead, 6379)
        client = redis.Redis.from_url(url, socket_timeout=2)
        try:
            assert client.ping()
            assert client.config_get("port") == {"port": str(where.port)}
            assert client.config_get("bind") == {"bind": "127.0.0.1"}
            assert client.config_get("save") == {"save": ""}
        finally:
            client.close()
    stopped = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
    with pytest.raises(redis.ConnectionError):
        stopped.ping()
    stopped.close()
