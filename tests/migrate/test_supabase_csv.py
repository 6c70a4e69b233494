"""Supabase's CSV text forms: Postgres text arrays and timestamps."""

from __future__ import annotations

from datetime import datetime

import pytest

from service.migrate.supabase_csv import CsvError, parse_text_array, parse_timestamp


@pytest.mark.parametrize(
    ("literal", "expected"),
    [
        ("{}", ()),
        ("{a}", ("a",)),
        ("{writing,editing}", ("writing", "editing")),
        ('{"copy editing","a,b"}', ("copy editing", "a,b")),
        ('{"x\\"y","back\\\\slash"}', ('x"y', "back\\slash")),
        ('{"NULL",plain}', ("NULL", "plain")),
        ("{ spaced , out }", ("spaced", "out")),
    ],
)
def test_text_arrays_parse(literal: str, expected: tuple[str, ...]) -> None:
    assert parse_text_array(literal) == expected


@pytest.mark.parametrize("literal", ["writing", "{NULL}", '{"open', "{a}b}", "{{a},{b}}"])
def test_malformed_text_arrays_are_refused(literal: str) -> None:
    with pytest.raises(CsvError):
        parse_text_array(literal)


def test_postgres_timestamps_parse_with_their_offsets() -> None:
    at = parse_timestamp("2024-05-01 10:00:00.123456+00")
    assert isinstance(at, datetime)
    assert at.isoformat() == "2024-05-01T10:00:00.123456+00:00"
    assert parse_timestamp("2024-05-01 15:30:00+05:30") == parse_timestamp("2024-05-01 10:00:00+00")
    with pytest.raises(CsvError):
        parse_timestamp("2024-05-01 10:00:00")
