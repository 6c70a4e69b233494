"""One error root for the cache. Vendor errors are wrapped `from exc` at the Redis adapter.

Backend errors never reach a caller of `ReadThroughCache`: it fails open, counts them and goes
on to the loader. Only misuse (`InvalidKeyError`) and the loader's own errors propagate.
"""

from __future__ import annotations


class CacheError(Exception):
    """Root of every error raised by the cache package."""


class CacheBackendError(CacheError):
    """A Redis operation failed; the vendor error is the `__cause__`."""


class CacheTimeoutError(CacheBackendError):
    """A Redis operation did not finish within the layer's short timeout."""


class CacheDecodeError(CacheError):
    """A stored value is not in the format this code writes (corrupt or foreign)."""


class InvalidKeyError(CacheError, ValueError):
    """A key or tag the cache cannot store: empty, or containing a newline."""
