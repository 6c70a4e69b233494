"""The pure parts: memory layer, codec, breaker, local generations, pending queue, messages."""

from __future__ import annotations

import time

import pytest

from cache import Breaker, Entry, MemoryLayer
from cache.barrier import Barriers
from cache.codec import decode_entry, encode_entry
from cache.errors import CacheDecodeError
from cache.generations import TagGenerations
from cache.invalidation import PendingInvalidations, decode_message, encode_message
from cache.lease import Lease
from cache.memory_layer import item_size


def entry(body: bytes = b"x" * 100, fresh_until: float = 100.0) -> Entry:
    return Entry.build(body, status=200, now=fresh_until - 10, ttl=10)


def put(memory: MemoryLayer, key: str, tags: tuple[str, ...] = ("t",), size: int = 100) -> int:
    stored, evicted = memory.put(key, tags, entry(b"x" * size), fresh_until=100.0, keep_until=200.0)
    assert stored
    return evicted


def test_memory_evicts_least_recently_used_within_the_byte_budget() -> None:
    one = item_size("a", ("t",), entry())
    memory = MemoryLayer(max_bytes=3 * one + one // 2)  # three items fit, four do not
    for key in ("a", "b", "c"):
        assert put(memory, key) == 0
    assert memory.get_fresh("a", now=50) is not None  # touch: "b" is now the oldest
    assert put(memory, "d") == 1
    assert memory.get_fresh("b", now=50) is None
    assert all(memory.get_fresh(k, now=50) is not None for k in ("a", "c", "d"))
    assert memory.bytes_used <= memory.max_bytes
    assert len(memory) == 3


def test_memory_refuses_an_item_larger_than_the_budget() -> None:
    memory = MemoryLayer(max_bytes=2000)
    stored, evicted = memory.put(
        "big", ("t",), entry(b"x" * 2000), fresh_until=100.0, keep_until=200.0
    )
    assert (stored, evicted, len(memory), memory.bytes_used) == (False, 0, 0, 0)


def test_memory_freshness_stale_keep_and_expiry() -> None:
    memory = MemoryLayer(max_bytes=10_000)
    put(memory, "k")
    assert memory.get_fresh("k", now=99.9) is not None
    assert memory.get_fresh("k", now=100.0) is None  # stale: not served as fresh
    assert memory.get_stale("k", now=150.0) is not None  # kept for stale-if-error
    assert memory.get_stale("k", now=200.0) is None  # past keep: dropped
    assert len(memory) == 0
    assert memory.bytes_used == 0


def test_memory_invalidates_by_tag_and_keeps_index_consistent() -> None:
    memory = MemoryLayer(max_bytes=100_000)
    put(memory, "a", ("cat:1", "all"))
    put(memory, "b", ("cat:2", "all"))
    put(memory, "c", ("cat:1",))
    assert memory.invalidate(["cat:1"]) == 2
    assert [k for k in "abc" if memory.get_fresh(k, now=50)] == ["b"]
    put(memory, "a", ("cat:1",))  # re-put: the old tag set must not linger
    assert memory.invalidate(["all"]) == 1
    assert memory.get_fresh("a", now=50) is not None
    memory.clear()
    assert (len(memory), memory.bytes_used) == (0, 0)


def test_codec_round_trip_and_corruption() -> None:
    original = Entry.build(b'{"a":1}', status=404, now=123.5, ttl=30)
    raw = encode_entry(original)
    assert raw.endswith(original.etag.encode() + b'{"a":1}')
    assert decode_entry(raw) == original
    with pytest.raises(CacheDecodeError):
        decode_entry(raw[:10])
    with pytest.raises(CacheDecodeError):
        decode_entry(b"\x09" + raw[1:])  # unknown version


def test_breaker_opens_probes_once_and_closes() -> None:
    now = [0.0]
    states: list[str] = []
    breaker = Breaker(failure_threshold=2, open_for=1.0, clock=lambda: now[0])
    breaker.on_change(states.append)
    breaker.failure()
    assert breaker.allow()
    breaker.failure()
    assert not breaker.allow()
    now[0] = 1.0
    assert breaker.allow()  # the one half-open probe
    assert not breaker.allow()
    breaker.failure()  # probe failed: open again
    now[0] = 1.5
    assert not breaker.allow()
    now[0] = 2.0
    assert breaker.allow()
    breaker.success()
    assert breaker.allow()
    assert states == ["open", "half_open", "open", "half_open", "closed"]


def test_breaker_lost_probe_does_not_wedge_it() -> None:
    now = [0.0]
    breaker = Breaker(failure_threshold=1, open_for=1.0, clock=lambda: now[0])
    breaker.failure()
    now[0] = 1.0
    assert breaker.allow()  # probe whose caller was cancelled: never reports
    now[0] = 2.0
    assert breaker.allow()


def test_generations_refuse_stores_after_a_bump() -> None:
    gens = TagGenerations(max_tags=2)
    mark = gens.mark()
    gens.bump(["a"])
    assert gens.moved(["a", "b"], mark)
    assert not gens.moved(["b"], mark)
    assert not gens.moved(["a"], gens.mark())
    mark = gens.mark()
    gens.bump(["b"])
    gens.bump(["c"])  # over max_tags: collapses to "everything moved"
    assert gens.moved(["zzz"], mark)
    mark = gens.mark()
    gens.bump_all()
    assert gens.moved(["anything"], mark)


def test_pending_is_deduplicated_bounded_and_keeps_readded_tags() -> None:
    pending = PendingInvalidations(limit=3)
    pending.add(["a", "b"])
    pending.add(["a"])
    assert len(pending) == 2
    tags, everything = pending.snapshot()
    pending.add(["b"])  # re-added while a flush is in flight
    pending.done(tags, everything)
    assert pending.snapshot() == ({"b": 3}, 0)
    pending.add(["c", "d", "e"])  # overflow: collapses into "everything"
    tags, everything = pending.snapshot()
    assert (tags, bool(everything)) == ({}, True)
    pending.add(["f"])  # arrives during that flush: "everything" must stay pending
    pending.done(tags, everything)
    assert pending
    tags, everything = pending.snapshot()
    pending.done(tags, everything)
    assert not pending


def test_message_round_trip_and_malformed() -> None:
    raw = encode_message(sent_at=1.25, origin="o1", everything=False, tags=["a", "b:c"])
    message = decode_message(raw)
    assert (message.sent_at, message.origin, message.everything, message.tags) == (
        1.25,
        "o1",
        False,
        ("a", "b:c"),
    )
    with pytest.raises(ValueError, match="malformed"):
        decode_message(b"garbage")


def test_message_carries_a_write_id_that_older_readers_skip_over() -> None:
    raw = encode_message(sent_at=1.5, origin="o1", everything=True, tags=["a"], write_id="42")
    message = decode_message(raw)
    assert (message.origin, message.write_id, message.everything, message.tags) == (
        "o1",
        "42",
        True,
        ("a",),
    )
    # A reader without acks splits on newlines only: it sees every tag, and an origin that
    # is not its own, so it applies the message.
    assert raw.decode().split("\n")[3:] == ["a"]
    bare = decode_message(encode_message(sent_at=1, origin="o1", everything=False, tags=[]))
    assert (bare.origin, bare.tags, bare.write_id) == ("o1", (), None)
    assert decode_message(b"1.0\no1\n0\nt").write_id is None


def test_lease_grows_with_pongs_is_capped_by_the_registration_and_counts_lapses() -> None:
    lease = Lease(0.05)
    assert lease.until == 0.0  # none until registered and ponged
    lease.registered(10.0, 5.0)  # valid in the registry until at least 15.0; half kept as margin
    assert not lease.renew(10.0, now=10.001)  # the first lease is no lapse
    assert lease.until == pytest.approx(10.05)
    assert not lease.renew(10.03, now=10.031)
    assert lease.until == pytest.approx(10.08)
    assert lease.renew(10.2, now=10.21)  # the previous one had run out at 10.08
    assert lease.until == pytest.approx(10.25)
    lease.renew(12.6, now=12.61)
    assert lease.until == pytest.approx(12.5)  # capped: 10.0 + 5.0 / 2
    lease.drop()
    assert lease.until == 0.0
    assert not lease.renew(13.0, now=13.01)  # after a drop, a new session's first lease
    assert Lease.forever().until == float("inf")


async def test_barrier_counts_acks_read_before_the_reply_and_times_out() -> None:
    barriers = Barriers()
    early = barriers.open()
    assert barriers.ack(f"{early.write_id} b".encode())  # read before the script's reply
    early.arm({"b"}, deadline=time.monotonic() + 5)
    assert await early.wait() == "acked"

    late = barriers.open()
    late.arm({"b", "c"}, deadline=time.monotonic() + 0.02)
    barriers.ack(f"{late.write_id} b".encode())
    assert late.missing == {"c"}
    started = time.monotonic()
    assert await late.wait() == "lease_expired"
    assert time.monotonic() - started >= 0.015
    assert not barriers.ack(b"no-space")
    assert barriers.ack(b"999 b")  # an unknown write: ignored
