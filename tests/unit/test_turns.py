from __future__ import annotations

import asyncio

from service.catalog.turns import WriterTurns


async def test_after_a_loss_the_first_comer_waits_for_the_second() -> None:
    turns = WriterTurns(hold_s=5.0)
    turns.lost("listing:1", 7)
    order: list[str] = []

    async def attempt(name: str) -> None:
        async with turns.turn("listing:1", 7):
            order.append(name)
            await asyncio.sleep(0.01)  # the attempt's own work
            order.append(f"{name} done")

    first = asyncio.create_task(attempt("winner"))
    await asyncio.sleep(0.05)
    assert order == []  # the winner came back first and is holding
    await attempt("loser")
    await first
    assert order == ["loser", "loser done", "winner", "winner done"]
    assert len(turns) == 0


async def test_a_lone_writer_waits_once_and_others_never() -> None:
    turns = WriterTurns(hold_s=0.05)
    turns.lost("listing:1", 7)
    async with asyncio.timeout(2):
        async with turns.turn("listing:1", 7):  # the rival gave up: one hold, then on
            pass
    assert len(turns) == 0
    turns.lost("listing:1", 8)
    for key, version in (("listing:2", 8), ("listing:1", 9)):  # not contending: straight on
        entered = False
        async with asyncio.timeout(0.04), turns.turn(key, version):
            entered = True
        assert entered
    assert len(turns) == 1


def test_unknown_winning_versions_are_not_remembered_and_the_map_is_bounded() -> None:
    turns = WriterTurns(max_entities=3)
    turns.lost("listing:0", None)
    assert len(turns) == 0
    for index in range(10):
        turns.lost(f"listing:{index}", 1)
    assert len(turns) <= 3
