"""The release before item schema versions, as far as its items go: how it wrote them and how
it read them (service.store.codec at that release, kept here verbatim in what matters). It
wrote no `schemaVersion` and plain strings only; it read a model's own fields and refused any
attribute type it did not know (binary among them); its updates SET what they changed."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any, TypeVar

from pydantic import BaseModel

from service.store.codec import Item, attributes, serialize
from service.store.keys import Key

M = TypeVar("M", bound=BaseModel)


def old_deserialize(value: Mapping[str, Any]) -> Any:
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
            return {k: old_deserialize(v) for k, v in raw.items()}
        case "L":
            return [old_deserialize(v) for v in raw]
        case "SS":
            return list(raw)
    raise TypeError(f"unsupported attribute type {tag}")


def old_load(model: type[M], item: Mapping[str, Any]) -> M:
    fields = {info.alias or name for name, info in model.model_fields.items()}
    plain = {name: old_deserialize(value) for name, value in item.items() if name in fields}
    return model.model_validate(plain)


def old_entity_item(model: BaseModel, entity_type: str, key: Key, **extra: object) -> Item:
    attrs = {"type": entity_type, **extra, **attributes(model)}
    return {**key, **{n: serialize(v) for n, v in attrs.items() if v is not None}}


def old_update(key: Key, changes: Mapping[str, object]) -> dict[str, Any]:
    """UpdateItem arguments as the old release's stores built them: SET what changed."""
    names = {f"#a{i}": name for i, name in enumerate(changes)}
    values = {f":v{i}": serialize(value) for i, value in enumerate(changes.values())}
    expression = "SET " + ", ".join(f"#a{i} = :v{i}" for i in range(len(changes)))
    return {
        "Key": key,
        "UpdateExpression": expression,
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": values,
    }
