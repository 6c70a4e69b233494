"""What a process's own notices vouch for (cache.cutoff.CutOffState): reads that began after
a notice was stored, until half a notice's validity past the latest one sent, and after a
lapse only reads that began after the next one was stored."""

from __future__ import annotations

import pytest

from cache.cutoff import CutOffState


def test_nothing_is_vouched_for_before_the_first_notice_is_stored() -> None:
    state = CutOffState(10.0)
    assert state.cap(100.0) == 0.0
    state.stored(100.0, 100.02)
    assert state.cap(100.01) == 0.0  # read while the first put was still in flight
    assert state.cap(100.02) == 105.0  # half the validity past the send


def test_renewals_without_a_gap_extend_the_cap_for_every_read_since_the_first() -> None:
    state = CutOffState(10.0)
    state.stored(100.0, 100.02)
    state.stored(102.0, 102.01)
    state.stored(104.0, 104.3)
    assert state.cap(100.5) == 109.0
    assert state.renew_every == 2.0


def test_after_a_lapse_only_reads_after_the_next_stored_notice_count() -> None:
    state = CutOffState(10.0)
    state.stored(100.0, 100.02)  # vouches until 105
    # Renewals failed: the next one is stored after the cap had passed, so a writer may have
    # found no current notice at, say, 106 and answered without waiting.
    state.stored(106.5, 106.6)
    assert state.cap(106.0) == 0.0
    assert state.cap(106.6) == 111.5


def test_reset_vouches_for_nothing_and_a_validity_must_be_positive() -> None:
    state = CutOffState(10.0)
    state.stored(100.0, 100.02)
    state.reset()
    assert state.cap(101.0) == 0.0
    with pytest.raises(ValueError, match="valid for"):
        CutOffState(0.0)
