"""Long text fields stored compressed: a string at least `MIN_BYTES` long (UTF-8) is written as
a binary attribute, `TAG_ZLIB` followed by the zlib stream, when that is smaller; anything
shorter stays a string. Readers tell the two apart by the attribute's type (S or B), so no
flag is needed and an old writer that sets the field as a string simply replaces the binary.

Only the fields in `PACKED_FIELDS` are ever packed (descriptions: up to 10,000 characters on a
listing, 2,000 on a category); no other attribute of ours is binary. The leading byte names
the codec, so a later release can switch to another (zstd, say) and still read these.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from typing import Any

PACKED_FIELDS = frozenset({"description"})
# Below about a kilobyte zlib saves little, and DynamoDB counts writes by the kilobyte.
MIN_BYTES = 1024
TAG_ZLIB = b"\x01"
_LEVEL = 6  # zlib's default: within a few percent of level 9 on prose, at a third the time


class CorruptText(ValueError):
    """A packed attribute that is not one this release can unpack."""


def pack(value: str, *, min_bytes: int = MIN_BYTES) -> str | bytes:
    """`value` as it is stored: the string itself, or its packed bytes when long enough and
    smaller for it."""
    raw = value.encode()
    if len(raw) < min_bytes:
        return value
    packed = TAG_ZLIB + zlib.compress(raw, _LEVEL)
    return packed if len(packed) < len(raw) else value


def unpack(value: bytes) -> str:
    if value[:1] != TAG_ZLIB:
        raise CorruptText(f"unknown text codec {value[:1]!r}")
    try:
        return zlib.decompress(value[1:]).decode()
    except (zlib.error, UnicodeDecodeError) as exc:
        raise CorruptText("packed text does not decompress") from exc


def packed(attributes: Mapping[str, Any], *, min_bytes: int = MIN_BYTES) -> dict[str, Any]:
    return {
        name: pack(value, min_bytes=min_bytes)
        if name in PACKED_FIELDS and isinstance(value, str)
        else value
        for name, value in attributes.items()
    }


def unpacked(attributes: Mapping[str, Any]) -> dict[str, Any]:
    return {
        name: unpack(value) if name in PACKED_FIELDS and isinstance(value, bytes) else value
        for name, value in attributes.items()
    }
