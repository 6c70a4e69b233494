"""JwksCache over a real loopback JWKS endpoint: fetch budget, single flight, outages, filtering."""

from __future__ import annotations

import asyncio
import gzip
import json
import secrets
import time
from importlib import resources
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from service.auth.jwks import MOTO_DEV_KEY_SHA256, modulus_sha256
from tests.auth.conftest import MakeAuth
from tests.auth.support import (
    MIN_INTERVAL,
    TTL,
    Auth,
    assert_refused,
    b64,
    claims,
    new_rsa_key,
    public_jwk,
    sign,
    unsigned,
)

pytestmark = pytest.mark.asyncio(loop_scope="session")


def _moto_jwk(kind: str) -> dict[str, Any]:
    shipped = resources.files("moto") / f"cognitoidp/resources/jwks-{kind}.json.gz"
    document = json.loads(gzip.decompress(shipped.read_bytes()))
    # The public file is a JWKS; the private one is a bare JWK.
    key: dict[str, Any] = document["keys"][0] if "keys" in document else document
    return key


async def test_10000_random_kids_cost_at_most_two_fetches(make_auth: MakeAuth) -> None:
    # The real clock: the budget is one fetch per 10 s of wall time, however long this takes.
    # Refused before the signature is checked, so hand-made tokens suffice.
    auth = make_auth(clock=time.monotonic)
    payload = b64(json.dumps(claims()).encode())
    for _ in range(10_000):
        kid = secrets.token_hex(8)
        token = f"{b64(json.dumps({'alg': 'RS256', 'kid': kid}).encode())}.{payload}.c2ln"
        await assert_refused(auth, token, "unknown_kid")
    assert 1 <= auth.server.requests <= 2
    assert auth.observer.failures.count("unknown_kid") == 10_000


async def test_concurrent_random_kids_share_one_fetch(auth: Auth) -> None:
    auth.server.delay_s = 0.05
    tokens = [unsigned({"alg": "RS256", "kid": secrets.token_hex(8)}, claims()) for _ in range(500)]
    results = await asyncio.gather(
        *(auth.verifier.verify(token) for token in tokens), return_exceptions=True
    )
    assert all(getattr(result, "reason", None) == "unknown_kid" for result in results)
    assert auth.server.requests == 1


async def test_the_last_good_keys_survive_a_jwks_outage(
    auth: Auth, trusted_key: rsa.RSAPrivateKey
) -> None:
    assert await auth.verifier.verify(sign(trusted_key, "k1"))
    assert auth.server.server is not None
    await auth.server.server.close()  # the JWKS endpoint is gone: connection refused
    auth.clock.advance(TTL + 1)
    principal = await auth.verifier.verify(sign(trusted_key, "k1"))
    assert principal.username == "ada"
    assert auth.observer.refreshes == ["ok", "error"]
    # A kid it never saw cannot be vouched for while the endpoint is down.
    await assert_refused(auth, sign(trusted_key, "k9"), "jwks_unavailable")


async def test_no_keys_ever_fetched_means_unavailable(make_auth: MakeAuth) -> None:
    auth = make_auth(url="http://127.0.0.1:9/nothing-listens-here")
    await assert_refused(auth, sign(new_rsa_key(), "k1"), "jwks_unavailable")
    assert auth.observer.refreshes == ["error"]
    # Within the refresh interval a failed endpoint is not asked again.
    await assert_refused(auth, sign(new_rsa_key(), "k1"), "jwks_unavailable")
    assert auth.observer.refreshes == ["error"]


async def test_concurrent_callers_after_ttl_share_one_fetch(
    auth: Auth, trusted_key: rsa.RSAPrivateKey
) -> None:
    assert await auth.verifier.verify(sign(trusted_key, "k1"))
    rotated = new_rsa_key()
    auth.server.keys.append(public_jwk(rotated, "k2"))
    auth.server.delay_s = 0.05  # long enough for all 100 to be waiting on the same fetch
    auth.clock.advance(TTL + 1)
    token = sign(rotated, "k2")
    principals = await asyncio.gather(*(auth.verifier.verify(token) for _ in range(100)))
    assert {p.sub for p in principals} == {claims()["sub"]}
    assert auth.server.requests == 2
    assert auth.observer.refreshes == ["ok", "ok"]


async def test_single_flight_holds_with_no_min_interval(
    make_auth: MakeAuth, trusted_key: rsa.RSAPrivateKey
) -> None:
    # min_refresh_interval_s=0 is a valid setting; the in-flight fetch alone must then dedupe.
    auth = make_auth(min_refresh_interval_s=0)
    auth.server.delay_s = 0.05
    token = sign(trusted_key, "k1")
    await asyncio.gather(*(auth.verifier.verify(token) for _ in range(50)))
    assert auth.server.requests == 1


async def test_a_cancelled_waiter_does_not_cancel_the_shared_fetch(
    auth: Auth, trusted_key: rsa.RSAPrivateKey
) -> None:
    auth.server.delay_s = 0.1
    token = sign(trusted_key, "k1")
    first = asyncio.create_task(auth.verifier.verify(token))
    second = asyncio.create_task(auth.verifier.verify(token))
    await asyncio.sleep(0.02)
    first.cancel()
    assert (await second).username == "ada"
    assert first.cancelled()
    assert auth.server.requests == 1


async def test_a_rotated_key_is_picked_up_after_the_min_interval(
    auth: Auth, trusted_key: rsa.RSAPrivateKey
) -> None:
    assert await auth.verifier.verify(sign(trusted_key, "k1"))
    rotated = new_rsa_key()
    auth.server.keys = [public_jwk(rotated, "k2"), public_jwk(trusted_key, "k1")]
    auth.clock.advance(MIN_INTERVAL / 2)
    await assert_refused(auth, sign(rotated, "k2"), "unknown_kid")
    assert auth.server.requests == 1  # too soon to ask again
    auth.clock.advance(MIN_INTERVAL)
    assert (await auth.verifier.verify(sign(rotated, "k2"))).username == "ada"
    assert auth.server.requests == 2
    # The known key keeps working from the refreshed set without another fetch.
    assert await auth.verifier.verify(sign(trusted_key, "k1"))
    assert auth.server.requests == 2


async def test_only_rs256_signing_keys_are_kept(auth: Auth, trusted_key: rsa.RSAPrivateKey) -> None:
    bare = new_rsa_key()
    bare_jwk = {k: v for k, v in public_jwk(bare, "bare").items() if k not in ("use", "alg")}
    ec_jwk = jwt.algorithms.ECAlgorithm.to_jwk(
        ec.generate_private_key(ec.SECP256R1()).public_key(), as_dict=True
    )
    auth.server.keys = [
        public_jwk(trusted_key, "enc", use="enc"),
        public_jwk(trusted_key, "rs512", alg="RS512"),
        public_jwk(new_rsa_key(1024), "small"),
        {**ec_jwk, "kid": "ec", "use": "sig"},
        {"kty": "oct", "kid": "oct", "k": b64(b"s" * 32), "alg": "HS256"},
        {"kty": "RSA", "kid": "broken", "n": "!!", "e": "AQAB"},
        "not-a-key",
        bare_jwk,
    ]
    for kid in ("enc", "rs512", "small", "ec", "oct", "broken"):
        await assert_refused(auth, unsigned({"alg": "RS256", "kid": kid}, claims()), "unknown_kid")
    assert (await auth.verifier.verify(sign(bare, "bare"))).username == "ada"
    assert auth.server.requests == 1


_HUGE = b'{"keys": [], "pad": "' + b"x" * 70_000 + b'"}'


@pytest.mark.parametrize(
    ("status", "body", "chunked"),
    [
        pytest.param(500, None, False, id="http-500"),
        pytest.param(200, b"<html>not json</html>", False, id="not-json"),
        pytest.param(200, b'{"keys": "nope"}', False, id="keys-not-a-list"),
        pytest.param(200, _HUGE, False, id="too-large"),
        pytest.param(200, _HUGE, True, id="too-large-chunked"),
    ],
)
async def test_a_bad_jwks_response_is_a_refresh_error(
    auth: Auth, trusted_key: rsa.RSAPrivateKey, status: int, body: bytes | None, chunked: bool
) -> None:
    auth.server.status, auth.server.raw_body, auth.server.chunked = status, body, chunked
    await assert_refused(auth, sign(trusted_key, "k1"), "jwks_unavailable")
    assert auth.observer.refreshes == ["error"]


async def test_a_slow_jwks_endpoint_times_out(
    make_auth: MakeAuth, trusted_key: rsa.RSAPrivateKey
) -> None:
    auth = make_auth(fetch_timeout_s=0.1)
    auth.server.delay_s = 0.5
    started = asyncio.get_running_loop().time()
    await assert_refused(auth, sign(trusted_key, "k1"), "jwks_unavailable")
    assert asyncio.get_running_loop().time() - started < 0.4
    assert auth.observer.refreshes == ["error"]
    await asyncio.sleep(0.5)  # let the server's handler finish before the server closes


async def test_the_dev_key_constant_is_motos_shipped_key() -> None:
    for kind in ("public", "private"):
        key = jwt.PyJWK(_moto_jwk(kind), algorithm="RS256").key
        public = key.public_key() if isinstance(key, rsa.RSAPrivateKey) else key
        assert isinstance(public, rsa.RSAPublicKey)
        assert modulus_sha256(public) == MOTO_DEV_KEY_SHA256


async def test_motos_key_is_refused_unless_dev_keys_are_allowed(make_auth: MakeAuth) -> None:
    public, private = _moto_jwk("public"), _moto_jwk("private")
    token = jwt.encode(
        claims(),
        jwt.PyJWK(private, algorithm="RS256").key,
        algorithm="RS256",
        headers={"kid": "dummy"},
    )
    strict = make_auth()
    strict.server.keys = [public]
    await assert_refused(strict, token, "unknown_kid")
    # Renaming the kid does not launder it: the modulus is what is recognised.
    strict.server.keys = [{**public, "kid": "innocent"}]
    strict.clock.advance(MIN_INTERVAL)
    renamed = jwt.encode(
        claims(),
        jwt.PyJWK(private, algorithm="RS256").key,
        algorithm="RS256",
        headers={"kid": "innocent"},
    )
    await assert_refused(strict, renamed, "unknown_kid")

    dev = make_auth(allow_dev_keys=True)
    dev.server.keys = [public]
    assert (await dev.verifier.verify(token)).username == "ada"
