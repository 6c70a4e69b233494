"""Models <-> DynamoDB items in the low-level typed form ({"S": ...}, {"N": ...}).

Attributes are the models' camelCase aliases; datetimes are stored as `keys.iso` strings so
that stored values and key strings sort alike; numbers go through Decimal strings, never
floats. Reading keeps only the model's own fields: items also carry keys and bookkeeping
attributes (`type`, `categoryVersion`, ...) that the models refuse.

Items carry their schema version (`service.store.versions`): `load` reads the current and the
previous one, long text fields may be stored compressed as binary (`service.store.packing`), and
`logical` is what an item says once both are undone (what a comparison should look at).

`item_size` is the size DynamoDB counts against its item limit (`ITEM_LIMIT_BYTES`), so that
a writer can refuse an item, and name it, before DynamoDB refuses the whole request.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar

from pydantic import BaseModel

from service.store import packing, versions
from service.store.keys import BATCH_ATTRIBUTE, GSI1PK, GSI1SK, PK, SK, iso
from service.store.rules import DEFAULT_RULES, ItemRules

Item = dict[str, Any]
M = TypeVar("M", bound=BaseModel)
# 400 KB, attribute names and values together (the DynamoDB Developer Guide, "Item sizes").
ITEM_LIMIT_BYTES = 400 * 1024


def serialize(value: object) -> dict[str, Any]:
    # bool before int: bool is an int subclass.
    if value is None:
        return {"NULL": True}
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, bytes):
        return {"B": value}
    if isinstance(value, int | Decimal):
        return {"N": str(value)}
    if isinstance(value, float):
        return {"N": str(Decimal(repr(value)))}
    if isinstance(value, datetime):
        return {"S": iso(value)}
    if isinstance(value, Mapping):
        return {"M": {str(k): serialize(v) for k, v in value.items()}}
    if isinstance(value, list | tuple):
        return {"L": [serialize(v) for v in value]}
    raise TypeError(f"cannot store {type(value).__name__}")


def deserialize(value: Mapping[str, Any]) -> Any:
    (tag, raw), *_ = value.items()
    match tag:
        case "S" | "BOOL":
            return raw
        case "NULL":
            return None
        case "N":
            number = Decimal(raw)
            return int(number) if number == number.to_integral_value() else number
        case "M":
            return {k: deserialize(v) for k, v in raw.items()}
        case "L":
            return [deserialize(v) for v in raw]
        case "SS":
            return list(raw)
        case "B":
            return bytes(raw)
    raise TypeError(f"unsupported attribute type {tag}")


def to_item(attributes: Mapping[str, object]) -> Item:
    return {name: serialize(value) for name, value in attributes.items() if value is not None}


def from_item(item: Mapping[str, Any]) -> dict[str, Any]:
    return {name: deserialize(value) for name, value in item.items()}


def attributes(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(by_alias=True, exclude_none=True)


def load(model: type[M], item: Mapping[str, Any], **extra: object) -> M:
    """The model an item of any readable schema version holds (upgraded on read)."""
    fields = {info.alias or name for name, info in model.model_fields.items()}
    current = versions.upgraded(item)
    plain = {name: deserialize(value) for name, value in current.items() if name in fields}
    return model.model_validate({**packing.unpacked(plain), **extra})


def entity_item(
    model: BaseModel,
    entity_type: str,
    key: Mapping[str, Any],
    *,
    rules: ItemRules = DEFAULT_RULES,
    **extra: object,
) -> Item:
    """The full item of an entity: its typed key, `type`, index keys, the model's fields (long
    text packed as `rules` say) and the schema version they write."""
    fields = rules.packed(attributes(model))
    stamp = rules.stamp()
    return {**key, **to_item({"type": entity_type, **extra, **fields, **stamp})}


def fits(item: Mapping[str, Any], limit: int = ITEM_LIMIT_BYTES) -> bool:
    """Whether `item` is at most `limit` bytes, cheaply for the usual small item: every byte
    counted is part of a character of the item's repr (names, values, and more than enough
    punctuation for the lists' and maps' overheads), and a character is at most 4 in UTF-8."""
    return 4 * len(repr(item)) <= limit or item_size(item) <= limit


# Attributes the service writes that are not a model's fields: keys, labels, bookkeeping.
OWN_ATTRIBUTES = frozenset(
    {PK, SK, GSI1PK, GSI1SK, "type", "categoryVersion", "targetId", "expiresAt", BATCH_ATTRIBUTE}
    | versions.BOOKKEEPING
)


def unknown_attributes(item: Mapping[str, Any], model: type[BaseModel]) -> Item:
    """The attributes of `item` this release knows nothing of (a newer release wrote them): a
    write that replaces the item, or copies it, carries them over."""
    fields = {info.alias or name for name, info in model.model_fields.items()}
    return {
        name: value
        for name, value in item.items()
        if name not in fields
        and name not in OWN_ATTRIBUTES
        and not name.startswith(versions.REPLICATION_PREFIX)
    }


def logical(item: Mapping[str, Any]) -> Item:
    """What an item says, whatever its schema version and text encoding: long text unpacked,
    the bookkeeping of versions and writes (`versions.BOOKKEEPING`) left out. Two items that
    differ only there are the same data (a `schema upgrade` rewrite, say)."""
    out: Item = {}
    for name, value in versions.upgraded(item).items():
        if name in versions.BOOKKEEPING or name.startswith(versions.REPLICATION_PREFIX):
            continue
        if name in packing.PACKED_FIELDS and "B" in value:
            out[name] = {"S": packing.unpack(bytes(value["B"]))}
        else:
            out[name] = value
    return out


def to_json(item: Mapping[str, Any]) -> dict[str, Any]:
    """A typed item as JSON can hold it: binary values base64, as DynamoDB's own JSON has them
    (the migration's work files are JSON lines)."""
    return {name: _json_value(value) for name, value in item.items()}


def from_json(raw: Mapping[str, Any]) -> Item:
    return {name: _binary_value(value) for name, value in raw.items()}


def _json_value(value: Mapping[str, Any]) -> dict[str, Any]:
    (tag, raw), *_ = value.items()
    if tag == "B":
        return {"B": base64.b64encode(raw).decode()}
    if tag == "M":
        return {"M": to_json(raw)}
    if tag == "L":
        return {"L": [_json_value(member) for member in raw]}
    return dict(value)


def _binary_value(value: Mapping[str, Any]) -> dict[str, Any]:
    (tag, raw), *_ = value.items()
    if tag == "B":
        return {"B": base64.b64decode(raw)}
    if tag == "M":
        return {"M": from_json(raw)}
    if tag == "L":
        return {"L": [_binary_value(member) for member in raw]}
    return dict(value)


def item_size(item: Mapping[str, Any]) -> int:
    """The bytes DynamoDB counts for a typed item: each attribute's name (UTF-8) plus its
    value, by the Developer Guide's rules: a string its UTF-8 length, a number one byte per
    two significant digits plus one, a boolean or null one byte, a list or map 3 bytes plus
    one a member and each member's own size (a map's keys counted as names)."""
    return sum(_utf8(name) + _value_size(value) for name, value in item.items())


def _utf8(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))


def _number_size(text: str) -> int:
    digits = "".join(str(d) for d in Decimal(text).as_tuple().digits).strip("0")
    return (max(len(digits), 1) + 1) // 2 + 1


def _value_size(value: Mapping[str, Any]) -> int:
    (tag, raw), *_ = value.items()
    match tag:
        case "S":
            return _utf8(raw)
        case "N":
            return _number_size(raw)
        case "B":
            return len(raw)
        case "BOOL" | "NULL":
            return 1
        case "L":
            return 3 + sum(_value_size(member) + 1 for member in raw)
        case "M":
            return 3 + sum(_utf8(name) + _value_size(member) + 1 for name, member in raw.items())
        case "SS":
            return sum(_utf8(member) for member in raw)
        case "NS":
            return sum(_number_size(member) for member in raw)
        case "BS":
            return sum(len(member) for member in raw)
    raise TypeError(f"unsupported attribute type {tag}")
