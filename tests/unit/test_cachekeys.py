"""The first page's key is made apart from the general one: they must be the same string, or a
first-page hit and the use case's fill would use two entries."""

from __future__ import annotations

import pytest

from service.api import params
from service.catalog import cachekeys


@pytest.mark.parametrize("ref", ["syn-category-0000", "01J9Z3X8K6W2", "a"])
def test_the_first_page_key_is_the_default_page_key(ref: str) -> None:
    assert cachekeys.first_page_key(ref) == cachekeys.category_page_key(
        ref, params.DEFAULT_LIMIT, None
    )
