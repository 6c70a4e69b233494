"""Keys and tags: newline-free (the invalidation message is newline-framed), tags sorted and
unique (the Redis value key embeds their generations in that order)."""

from __future__ import annotations

from collections.abc import Iterable

from cache.errors import InvalidKeyError


def check_name(name: str) -> None:
    if not name or "\n" in name:
        raise InvalidKeyError(f"cache keys and tags must be non-empty without newlines: {name!r}")


def normalize_tags(tags: Iterable[str]) -> tuple[str, ...]:
    if isinstance(tags, str):
        raise InvalidKeyError("tags must be a collection of strings, not one string")
    unique = tuple(sorted(set(tags)))
    for tag in unique:
        check_name(tag)
    return unique
