"""Read Supabase's CSV exports: one file per table with a header row, as the dashboard's
"Export to CSV" writes them (`profiles_rows.csv`) or as `COPY ... TO ... CSV HEADER` does
(`profiles.csv`).

Columns are found by header name, so their order and any extra columns do not matter. An
empty field is NULL (for the nullable `url` and `image_url`); timestamps are Postgres' text
form (`2024-05-01 10:00:00.123456+00`); booleans `true`/`false` or `t`/`f`; text arrays use
Postgres' array syntax (`{writing,"copy editing"}`), parsed by `parse_text_array`.
"""

from __future__ import annotations

import csv
import re
from collections.abc import AsyncIterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from service.migrate import rows
from service.migrate.errors import SourceError
from service.migrate.rows import Moment, R, Row

_FILES: dict[str, str] = {
    rows.AuthUser.table: "users",
    rows.Profile.table: "profiles",
    rows.Category.table: "categories",
    rows.Listing.table: "listings",
    rows.Favorite.table: "favorites",
}
_SHORT_OFFSET = re.compile(r"([+-]\d\d)$")
_NULLABLE = frozenset({"url", "image_url"})


class CsvError(SourceError):
    pass


def parse_timestamp(text: str) -> Moment:
    text = text.strip()
    for bound in rows.Unbounded:
        if text == bound.value:
            return bound
    # Postgres writes "+00" for UTC; fromisoformat wants "+00:00".
    try:
        value = datetime.fromisoformat(_SHORT_OFFSET.sub(r"\1:00", text))
    except ValueError as exc:
        raise CsvError(f"not a timestamp: {text!r}") from exc
    if value.tzinfo is None:
        raise CsvError(f"timestamp without a time zone: {text!r}")
    return value


def parse_bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("t", "true"):
        return True
    if lowered in ("f", "false"):
        return False
    raise CsvError(f"not a boolean: {text!r}")


def parse_text_array(text: str) -> tuple[str, ...]:
    """A one-dimensional Postgres text array literal: `{}`, `{a,b}`, `{"a b","x\\"y"}`."""
    text = text.strip()
    if not (text.startswith("{") and text.endswith("}")):
        raise CsvError(f"not an array literal: {text!r}")
    body, out, index = text[1:-1], [], 0
    if not body.strip():
        return ()
    while index <= len(body):
        while index < len(body) and body[index].isspace():
            index += 1
        if index < len(body) and body[index] == '"':
            value, index = _quoted(body, index + 1)
        else:
            end = body.find(",", index)
            end = len(body) if end < 0 else end
            value = body[index:end].strip()
            if value.upper() == "NULL" or any(c in value for c in '{}"'):
                raise CsvError(f"unsupported array element {value!r} in {text!r}")
            index = end
        out.append(value)
        while index < len(body) and body[index].isspace():
            index += 1
        if index < len(body) and body[index] != ",":
            raise CsvError(f"malformed array literal: {text!r}")
        index += 1
    return tuple(out)


def _quoted(body: str, index: int) -> tuple[str, int]:
    chars: list[str] = []
    while index < len(body):
        char = body[index]
        if char == "\\" and index + 1 < len(body):
            chars.append(body[index + 1])
            index += 2
        elif char == '"':
            return "".join(chars), index + 1
        else:
            chars.append(char)
            index += 1
    raise CsvError(f"unterminated quoted element in {body!r}")


def _convert(name: str, text: str) -> Any:
    if name.endswith("_at"):
        return parse_timestamp(text)
    if name in ("is_admin", "remote"):
        return parse_bool(text)
    if name in ("sort_order", "income_min", "income_max"):
        return int(text)
    if name == "skills":
        return parse_text_array(text)
    if name in _NULLABLE:
        return text or None
    if name == "income_currency":
        return text.strip()  # char(3)
    return text


def csv_path(directory: Path, row_type: type[Row]) -> Path:
    base = _FILES[row_type.table]
    for name in (f"{base}.csv", f"{base}_rows.csv", f"{row_type.table}.csv"):
        if (directory / name).exists():
            return directory / name
    raise CsvError(f"no CSV export for {row_type.table} in {directory} ({base}.csv)")


class CsvSource:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    async def read(self, row_type: type[R]) -> AsyncIterator[R]:
        names = rows.columns(row_type)
        path = csv_path(self.directory, row_type)
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            try:
                missing = set(names) - set(reader.fieldnames or ())
                if missing:
                    raise CsvError(f"{path.name}: missing columns {sorted(missing)}")
                for record in reader:
                    yield row_type(**_values(path, reader.line_num, names, record))
            except (csv.Error, UnicodeDecodeError) as exc:
                raise CsvError(f"{path.name} line {reader.line_num}: {exc}") from exc


def _values(path: Path, line: int, names: tuple[str, ...], record: Mapping[str, Any]) -> Any:
    short = [name for name in names if record.get(name) is None]
    if short or None in record:
        raise CsvError(f"{path.name} line {line}: not as many fields as the header has")
    try:
        return {name: _convert(name, record[name]) for name in names}
    except (ValueError, CsvError) as exc:
        raise CsvError(f"{path.name} line {line}: {exc}") from exc
