"""A read-through cache of ready-to-send bodies: in-process LRU, then Redis, then the loader.

It caches bytes under keys and tags that the caller chooses and knows nothing of what they
mean. Only the standard library and redis-py are imported here.
"""

from cache.breaker import Breaker
from cache.cutoff import CutOffNotices
from cache.entry import Encodings, Entry, Loaded, Lookup, Source, compute_etag
from cache.errors import CacheBackendError, CacheError, CacheTimeoutError, InvalidKeyError
from cache.health import CacheHealth
from cache.invalidation import ChannelSettings
from cache.memory_layer import MemoryLayer
from cache.observer import CacheObserver, NullObserver
from cache.readthrough import ReadThroughCache
from cache.redis_layer import RedisLayer
from cache.singleflight import cancel_and_wait

__all__ = [
    "Breaker",
    "CacheBackendError",
    "CacheError",
    "CacheHealth",
    "CacheObserver",
    "CacheTimeoutError",
    "ChannelSettings",
    "CutOffNotices",
    "Encodings",
    "Entry",
    "InvalidKeyError",
    "Loaded",
    "Lookup",
    "MemoryLayer",
    "NullObserver",
    "ReadThroughCache",
    "RedisLayer",
    "Source",
    "cancel_and_wait",
    "compute_etag",
]
