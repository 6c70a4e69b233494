"""The benchmark's ratios pair measurements taken in the same repetition."""

from __future__ import annotations

import pytest

from loadtests.benchmark import Target, middle_half, paired_ratio
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


def test_the_middle_half_shows_how_far_the_noise_reaches() -> None:
    ratios = [0.70, 0.78, 0.80, 0.82, 0.84, 0.86, 0.95, 1.10]
    low, high = middle_half(ratios)
    # The median (0.83) misses 0.85, but the target lies inside the middle half: noise.
    assert low < 0.85 < high
    assert (low, high) == pytest.approx((0.795, 0.8825))


def test_a_target_is_judged_on_the_median_and_reports_its_gap() -> None:
    missed = Target.judge("page: in-process hit vs ceiling", [0.80, 0.76, 0.84], 0.85)
    assert not missed.passed
    assert "MISS by 6%" in missed.line()
    p99 = Target.judge("cached p99 ms", [4.0, 4.9, 12.0], 5.0, at_most=True)
    assert p99.passed
    assert "[4.45-8.45]" in p99.line()
