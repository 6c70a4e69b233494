"""Where each of the cache's Redis keys and channels lives, on one node or on a Redis Cluster.

One node: every name is `{prefix}:...` as `cache.redis_layer` lists them.

Cluster (ElastiCache cluster mode): a Lua script may touch keys of one hash slot only, and an
entry's read or store script touches its value and the generation of every one of its tags. So
entries are spread over `groups` slot groups by a hash of their key, and each group keeps its
own copy of the generations: `{prefix:n}:G`, `{prefix:n}:g:{tag}`, `{prefix:n}:seq` and the
values `{prefix:n}:v:{key}:...`, all in the slot of the hash tag `{prefix:n}`. Reads and stores
stay one script, one round trip, in one slot. An invalidation moves the tag's generation in
every group (one script per group, sent together), then announces itself. The channel, the
ack channels and the registry of live instances share the hash tag `{prefix}`: one slot, so one
sharded pub/sub connection to one node carries the messages, the acks and the PONGs in order
(the lease relies on that order, see `cache.lease`).
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence


class Keyspace:
    __slots__ = ("_control", "_groups", "_prefix")

    def __init__(self, prefix: str, *, groups: int | None = None) -> None:
        if not prefix or any(c in prefix for c in "{}"):
            raise ValueError("prefix must be non-empty and hold no braces")
        if groups is not None and groups < 1:
            raise ValueError("groups must be at least 1")
        self._prefix = prefix
        self._groups = groups
        self._control = f"{{{prefix}}}" if groups is not None else prefix

    @property
    def clustered(self) -> bool:
        return self._groups is not None

    @property
    def channel(self) -> str:
        return f"{self._control}:inval"

    @property
    def registry(self) -> str:
        return f"{self._control}:instances"

    def ack_channel(self, origin: str) -> str:
        return f"{self._control}:ack:{origin}"

    def group_of(self, key: str) -> str:
        """The base every key of the entry `key` starts with (its slot, in a cluster)."""
        if self._groups is None:
            return self._prefix
        return self._group(zlib.crc32(key.encode()) % self._groups)

    def gen_keys(self, key: str, tags: Sequence[str]) -> list[str]:
        base = self.group_of(key)
        return [f"{base}:G", *(f"{base}:g:{tag}" for tag in tags)]

    def value_base(self, key: str) -> str:
        return f"{self.group_of(key)}:v:{key}:"

    def bumps(self, tags: Sequence[str], *, everything: bool) -> list[list[str]]:
        """Per group: its sequence, then the generation keys an invalidation moves."""
        bases = (
            [self._prefix]
            if self._groups is None
            else [self._group(n) for n in range(self._groups)]
        )
        return [
            [
                f"{base}:seq",
                *([f"{base}:G"] if everything else []),
                *(f"{base}:g:{tag}" for tag in tags),
            ]
            for base in bases
        ]

    def _group(self, n: int) -> str:
        return f"{{{self._prefix}:{n}}}"
