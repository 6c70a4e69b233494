"""The signing keys of one Cognito user pool, fetched from its JWKS URL and cached.

Invariants:
- The key always comes from the configured URL, never from anything a token says.
- At most one fetch is in flight; its result is shared by every caller waiting on it.
- Fetches start at most once per `min_refresh_interval` (success or failure alike), so tokens
  with made-up kids cannot turn into a stream of requests to the JWKS endpoint.
- A failed refresh keeps the last good key set: an outage of the JWKS endpoint does not sign
  everybody out.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any, Final

import aiohttp
import jwt
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

from service.auth.observer import AuthObserver
from service.errors import Unauthenticated

log = logging.getLogger(__name__)

# SHA-256 of the big-endian modulus of the key pair moto ships in
# moto/cognitoidp/resources/jwks-*.json.gz and signs every emulated user pool with. Its private
# half is public, so outside dev mode a JWKS offering it must be treated as hostile.
MOTO_DEV_KEY_SHA256: Final = "60ececf17e149ab77be01dedd94c3fb8a0c33c70d4a78b1c3807b097c7c506be"

# Cognito's JWKS is ~1 KB; anything near this cap is not a key set we want to parse.
DEFAULT_MAX_JWKS_BYTES: Final = 64 * 1024
DEFAULT_FETCH_TIMEOUT_S: Final = 2.0
_MIN_RSA_BITS: Final = 2048


def modulus_sha256(key: RSAPublicKey) -> str:
    n = key.public_numbers().n
    return hashlib.sha256(n.to_bytes((n.bit_length() + 7) // 8, "big")).hexdigest()


class _FetchFailed(Exception):
    """The JWKS could not be fetched or parsed; the message is for the log only."""


class JwksCache:
    def __init__(
        self,
        session: aiohttp.ClientSession,
        url: str,
        *,
        ttl_s: float,
        min_refresh_interval_s: float,
        observer: AuthObserver,
        allow_dev_keys: bool = False,
        clock: Callable[[], float] = time.monotonic,
        fetch_timeout_s: float = DEFAULT_FETCH_TIMEOUT_S,
        max_bytes: int = DEFAULT_MAX_JWKS_BYTES,
    ) -> None:
        self._session = session
        self._url = url
        self._ttl = ttl_s
        self._min_interval = min_refresh_interval_s
        self._observer = observer
        self._allow_dev_keys = allow_dev_keys
        self._clock = clock
        self._timeout = aiohttp.ClientTimeout(total=fetch_timeout_s)
        self._max_bytes = max_bytes
        self._keys: dict[str, jwt.PyJWK] = {}
        self._loaded_at: float | None = None  # last successful fetch
        self._attempted_at: float | None = None  # last fetch started, whatever its outcome
        self._last_failed = False
        self._inflight: asyncio.Task[None] | None = None

    async def key(self, kid: str) -> jwt.PyJWK:
        """The RS256 key for `kid`, or Unauthenticated("unknown_kid" | "jwks_unavailable")."""
        now = self._clock()
        known = self._keys.get(kid)
        fresh = self._loaded_at is not None and now - self._loaded_at < self._ttl
        if known is not None and fresh:
            return known
        if self._inflight is None and self._may_fetch(now):
            self._attempted_at = now
            self._inflight = asyncio.create_task(self._refresh())
            self._inflight.add_done_callback(self._clear_inflight)
        if self._inflight is not None:
            # shield: one waiter being cancelled must not cancel the fetch the others share.
            await asyncio.shield(self._inflight)
        found = self._keys.get(kid)
        if found is not None:
            # After a failed refresh this is the last good key: serving it is the point.
            return found
        if self._loaded_at is None or self._last_failed:
            raise Unauthenticated("jwks_unavailable")
        raise Unauthenticated("unknown_kid")

    def _may_fetch(self, now: float) -> bool:
        return self._attempted_at is None or now - self._attempted_at >= self._min_interval

    def _clear_inflight(self, task: asyncio.Task[None]) -> None:
        if self._inflight is task:
            self._inflight = None

    async def _refresh(self) -> None:
        try:
            keys = self._parse(await self._fetch())
        except _FetchFailed as exc:
            self._last_failed = True
            log.warning(
                "JWKS refresh from %s failed (%s); keeping %d keys", self._url, exc, len(self._keys)
            )
            self._observer.jwks_refresh("error")
            return
        self._keys = keys
        self._loaded_at = self._clock()
        self._last_failed = False
        self._observer.jwks_refresh("ok")

    async def _fetch(self) -> bytes:
        try:
            async with self._session.get(
                self._url, timeout=self._timeout, allow_redirects=False
            ) as response:
                if response.status != 200:
                    raise _FetchFailed(f"HTTP {response.status}")
                if (response.content_length or 0) > self._max_bytes:
                    raise _FetchFailed("response too large")
                body = bytearray()
                # Bounded by max_bytes: a chunked response cannot grow past the cap either.
                async for chunk in response.content.iter_chunked(16 * 1024):
                    body += chunk
                    if len(body) > self._max_bytes:
                        raise _FetchFailed("response too large")
                return bytes(body)
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise _FetchFailed(type(exc).__name__) from exc

    def _parse(self, body: bytes) -> dict[str, jwt.PyJWK]:
        try:
            document = json.loads(body)
        except (ValueError, RecursionError) as exc:
            raise _FetchFailed("not JSON") from exc
        entries = document.get("keys") if isinstance(document, dict) else None
        if not isinstance(entries, list):
            raise _FetchFailed("no 'keys' list")
        keys: dict[str, jwt.PyJWK] = {}
        for entry in entries:
            if isinstance(entry, Mapping):
                usable = self._usable(entry)
                if usable is not None:
                    keys[usable[0]] = usable[1]
        return keys

    def _usable(self, entry: Mapping[str, Any]) -> tuple[str, jwt.PyJWK] | None:
        kid = entry.get("kid")
        if not isinstance(kid, str) or not kid:
            return None
        if entry.get("kty") != "RSA" or entry.get("use", "sig") != "sig":
            return None
        if entry.get("alg", "RS256") != "RS256":
            return None
        try:
            # algorithm pinned: the key can only ever verify RS256, whatever else it claims.
            jwk = jwt.PyJWK(dict(entry), algorithm="RS256")
        except (jwt.PyJWTError, ValueError, TypeError):
            return None
        public = jwk.key
        if not isinstance(public, RSAPublicKey) or public.key_size < _MIN_RSA_BITS:
            return None
        if not self._allow_dev_keys and modulus_sha256(public) == MOTO_DEV_KEY_SHA256:
            log.warning("JWKS key %r is moto's published dev key; refused outside dev mode", kid)
            return None
        return kid, jwk
