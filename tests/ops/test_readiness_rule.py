"""Readiness's rule, on its own: only an instance that could serve nothing is unready."""

from __future__ import annotations

from collections.abc import Callable

from service.runtime.health import Readiness


async def _up() -> bool:
    return True


async def _down() -> bool:
    return False


async def _raises() -> bool:
    raise ConnectionError("refused")


def _always(value: bool) -> Callable[[], bool]:
    return lambda: value


async def test_a_dependency_down_is_reported_and_only_serving_nothing_is_unready() -> None:
    cases = [
        # (dynamodb, redis, memory entries it may serve) -> serviceable
        ((_up, _up, False), True),
        ((_up, _down, False), True),  # Redis down: reads go to DynamoDB
        ((_down, _up, False), True),  # DynamoDB down: Redis's copies, stale-if-error
        ((_down, _down, True), True),  # both down: this process's own copies
        ((_down, _raises, False), False),  # nothing to answer from: start-up, not ready
    ]
    for (dynamodb, redis, memory), expected in cases:
        readiness = Readiness(
            probes={"dynamodb": dynamodb, "redis": redis},
            memory_can_serve=_always(memory),
            cache_for_s=0.0,
        )
        checks = await readiness.check()
        assert checks == {"dynamodb": dynamodb is _up, "redis": redis is _up}
        assert readiness.serviceable(checks) is expected, (dynamodb, redis, memory)


async def test_without_redis_configured_dynamodb_decides() -> None:
    readiness = Readiness(probes={"dynamodb": _down}, cache_for_s=0.0)
    assert readiness.serviceable(await readiness.check()) is False
    readiness = Readiness(probes={"dynamodb": _up}, cache_for_s=0.0)
    assert readiness.serviceable(await readiness.check()) is True
