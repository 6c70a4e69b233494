"""`make loadtest`'s rate ladder: what --target-rps accepts."""

from __future__ import annotations

import pytest

from loadtests.run import parse


def test_one_rate_or_an_ascending_ladder() -> None:
    assert parse([]).target_rps == (75.0,)
    assert parse(["--target-rps", "75"]).target_rps == (75.0,)
    assert parse(["--target-rps", "50,100,150"]).target_rps == (50.0, 100.0, 150.0)


@pytest.mark.parametrize("bad", ["150,100", "50,50", "0", "-5", "fast", "50,"])
def test_a_ladder_that_is_not_ascending_positive_numbers_is_refused(bad: str) -> None:
    with pytest.raises(SystemExit):
        parse(["--target-rps", bad])
