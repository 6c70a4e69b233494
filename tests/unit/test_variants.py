"""The variants benchmark's command line: what each NAME=[KEY=VALUE,...][@CHECKOUT] means."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from service.dev.bench.variants import Variant


def test_a_bare_name_is_the_service_as_configured_filled_first() -> None:
    assert Variant.parse("after=") == Variant("after", {}, warm=True, checkout=None)


def test_overrides_warm_and_checkout_are_read_apart(tmp_path: Path) -> None:
    parsed = Variant.parse(f"slow=HUSTLEHUB_CACHE_LEASE_S=1.0,warm=0,A=b=c@{tmp_path}")
    assert parsed == Variant(
        "slow", {"HUSTLEHUB_CACHE_LEASE_S": "1.0", "A": "b=c"}, warm=False, checkout=tmp_path
    )


@pytest.mark.parametrize("text", ["after", "=X=1", "x=NOEQUALS"])
def test_a_malformed_variant_is_refused(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        Variant.parse(text)
