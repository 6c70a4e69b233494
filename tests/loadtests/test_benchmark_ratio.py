"""The benchmark's ratios pair measurements taken in the same repetition."""

from __future__ import annotations

import pytest

from loadtests.benchmark import paired_ratio
from loadtests.loadgen import Sample


def _s(rps: float) -> Sample:
    return Sample(rps=rps, p50_ms=1.0, p99_ms=2.0)


def test_a_drifting_machine_cancels_out_of_paired_ratios() -> None:
    # The machine halves its speed over the run; the service is 0.9x the ceiling throughout.
    ceilings = [_s(20_000), _s(15_000), _s(10_000)]
    service = [_s(18_000), _s(13_500), _s(9_000)]
    assert paired_ratio(service, ceilings) == pytest.approx(0.9)
    # Paired with another repetition's ceiling, the same figures say something else.
    assert paired_ratio(service, ceilings[1:] + ceilings[:1]) == pytest.approx(1.2)


def test_the_median_ignores_one_disturbed_repetition() -> None:
    ceilings = [_s(10_000)] * 5
    service = [_s(8_000), _s(8_100), _s(2_000), _s(7_900), _s(8_050)]
    assert paired_ratio(service, ceilings) == pytest.approx(0.8)  # 0.2 is one bad minute


def test_pairs_must_match() -> None:
    with pytest.raises(ValueError, match="one denominator per numerator"):
        paired_ratio([_s(1.0)], [])
