"""The in-process timing of a cached read: it drives the real handler to a real response."""

from __future__ import annotations

import asyncio

import pytest

from service.dev.bench import hotpath


async def _answer() -> int:
    return 42


def test_finish_runs_a_coroutine_that_never_suspends() -> None:
    assert hotpath.finish(_answer()) == 42


def test_finish_refuses_one_that_suspends() -> None:
    # asyncio.sleep(0) yields to the loop once: a read that did would not be a memory hit.
    with pytest.raises(RuntimeError, match="not an in-process hit"):
        hotpath.finish(asyncio.sleep(0))


def test_the_timed_handler_answers_from_the_in_process_layer(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert hotpath.main(["--number", "50", "--repeat", "1"]) == 0
    out = capsys.readouterr().out
    for name in ("ceiling: aiohttp Response", "endpoint wrapper + handler", "cache peek"):
        assert name in out
    # Both of make benchmark's endpoints, each also timed with its answer written.
    assert "in-process listing hit" in out
    assert "in-process category page hit" in out
    assert "ceiling: Response sent" in out
    assert "wrapper + handler, sent" in out
    assert out.count("the same, answers sent") == 2
    assert "ours beyond the ceiling's work" in out
    assert "the same, access log default" in out
    assert "the default access log's share" in out
