"""TokenVerifier against real RS256 keys and a JWKS served over loopback HTTP: attacks refused."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from service.auth.observer import FAILURE_REASONS
from service.auth.principal import Principal
from service.auth.tokens import TokenVerifier
from service.errors import Unauthenticated
from tests.auth.conftest import AiohttpServer
from tests.auth.support import (
    CLIENT_ID,
    ISSUER,
    OMIT,
    SUB,
    Auth,
    JwksServer,
    assert_refused,
    b64,
    claims,
    public_jwk,
    sign,
    unsigned,
)

pytestmark = pytest.mark.asyncio(loop_scope="session")

_NO_KID = b64(json.dumps({"alg": "RS256"}).encode())


async def test_a_good_access_token_yields_its_principal(
    auth: Auth, trusted_key: rsa.RSAPrivateKey
) -> None:
    principal = await auth.verifier.verify(sign(trusted_key, "k1"))
    assert principal == Principal(
        sub=SUB,
        username="ada",
        client_id=CLIENT_ID,
        groups=("admin",),
        scopes=("aws.cognito.signin.user.admin",),
    )
    assert auth.observer.failures == []
    assert auth.observer.refreshes == ["ok"]


async def test_groups_and_scopes_are_optional(auth: Auth, trusted_key: rsa.RSAPrivateKey) -> None:
    token = sign(trusted_key, "k1", **{"cognito:groups": OMIT, "scope": OMIT})
    principal = await auth.verifier.verify(token)
    assert (principal.groups, principal.scopes) == ((), ())


async def test_alg_none_is_refused_before_any_key_lookup(auth: Auth) -> None:
    token = unsigned({"alg": "none", "kid": "k1"}, claims(), signature=b"")
    await assert_refused(auth, token, "alg_not_allowed")
    assert auth.server.requests == 0


async def test_hs256_signed_with_the_public_key_pem_is_refused(
    auth: Auth, trusted_key: rsa.RSAPrivateKey
) -> None:
    # Key confusion: a verifier that let the token pick HS256 would use the public PEM as the
    # HMAC secret, and anyone can compute this signature.
    pem = trusted_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    signing_input = ".".join(
        (
            b64(json.dumps({"alg": "HS256", "kid": "k1", "typ": "JWT"}).encode()),
            b64(json.dumps(claims()).encode()),
        )
    )
    mac = hmac.new(pem, signing_input.encode(), hashlib.sha256).digest()
    await assert_refused(auth, f"{signing_input}.{b64(mac)}", "alg_not_allowed")
    assert auth.server.requests == 0


@pytest.mark.parametrize("alg", ["RS512", "PS256", "ES256", "HS512", "rs256", ""])
async def test_every_other_alg_is_refused(
    auth: Auth, trusted_key: rsa.RSAPrivateKey, alg: str
) -> None:
    genuine = sign(trusted_key, "k1")
    _, payload, signature = genuine.split(".")
    header = b64(json.dumps({"alg": alg, "kid": "k1"}).encode())
    await assert_refused(auth, f"{header}.{payload}.{signature}", "alg_not_allowed")


async def test_a_token_from_another_pool_is_refused(
    auth: Auth, trusted_key: rsa.RSAPrivateKey
) -> None:
    other = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_OtherPool"
    await assert_refused(auth, sign(trusted_key, "k1", iss=other), "wrong_issuer")
    # Exact match only: no prefix, suffix or case games.
    await assert_refused(auth, sign(trusted_key, "k1", iss=ISSUER + "/"), "wrong_issuer")
    await assert_refused(auth, sign(trusted_key, "k1", iss=ISSUER.upper()), "wrong_issuer")
    await assert_refused(auth, sign(trusted_key, "k1", iss=OMIT), "missing_claim")


async def test_an_id_token_is_refused(auth: Auth, trusted_key: rsa.RSAPrivateKey) -> None:
    # Shaped like Cognito's ID token: `aud` instead of `client_id`, token_use=id.
    token = sign(trusted_key, "k1", token_use="id", aud=CLIENT_ID, client_id=OMIT)
    await assert_refused(auth, token, "wrong_token_use")


async def test_another_app_client_is_refused(auth: Auth, trusted_key: rsa.RSAPrivateKey) -> None:
    await assert_refused(auth, sign(trusted_key, "k1", client_id="other-app"), "wrong_client")
    await assert_refused(auth, sign(trusted_key, "k1", client_id=OMIT), "missing_claim")


async def test_expiry_is_enforced_with_leeway(auth: Auth, trusted_key: rsa.RSAPrivateKey) -> None:
    now = int(time.time())
    await assert_refused(auth, sign(trusted_key, "k1", exp=now - 120), "expired")
    # Within the 30 s leeway: clock skew between Cognito and us is tolerated.
    assert await auth.verifier.verify(sign(trusted_key, "k1", exp=now - 10))


@pytest.mark.parametrize("claim", ["exp", "iat", "sub", "token_use", "username"])
async def test_a_missing_required_claim_is_refused(
    auth: Auth, trusted_key: rsa.RSAPrivateKey, claim: str
) -> None:
    await assert_refused(auth, sign(trusted_key, "k1", **{claim: OMIT}), "missing_claim")


async def test_a_token_issued_in_the_future_is_refused(
    auth: Auth, trusted_key: rsa.RSAPrivateKey
) -> None:
    now = int(time.time())
    await assert_refused(auth, sign(trusted_key, "k1", iat=now + 300), "not_yet_valid")
    await assert_refused(auth, sign(trusted_key, "k1", nbf=now + 300), "not_yet_valid")
    assert await auth.verifier.verify(sign(trusted_key, "k1", iat=now + 10))


async def test_a_megabyte_token_is_refused_before_parsing(auth: Auth) -> None:
    # A header that is not even base64: only a size check that runs first says too_large.
    token = "!!!." + "A" * 1_000_000 + ".sig"
    await assert_refused(auth, token, "too_large")
    assert auth.server.requests == 0


@pytest.mark.parametrize(
    "token",
    [
        pytest.param("abc", id="one-segment"),
        pytest.param("abc.def", id="two-segments"),
        pytest.param("a.b.c.d", id="four-segments"),
        pytest.param("!!!.eyJ9.c2ln", id="bad-base64-header"),
        pytest.param(f"{b64(b'not json')}.{b64(b'{}')}.c2ln", id="non-json-header"),
        pytest.param(f"{b64(b'[1,2]')}.{b64(b'{}')}.c2ln", id="header-not-an-object"),
        pytest.param(f"{_NO_KID}.{b64(b'{}')}.c2ln", id="no-kid"),
        pytest.param("ey\u00e9.a.b", id="non-ascii"),
    ],
)
async def test_malformed_tokens_are_refused(auth: Auth, token: str) -> None:
    await assert_refused(auth, token, "malformed")
    assert auth.server.requests == 0


async def test_a_four_segment_token_built_from_a_good_one_is_refused(
    auth: Auth, trusted_key: rsa.RSAPrivateKey
) -> None:
    await assert_refused(auth, sign(trusted_key, "k1") + ".extra", "malformed")


async def test_an_empty_token_is_missing(auth: Auth) -> None:
    await assert_refused(auth, "", "missing")


async def test_a_bad_base64_payload_is_malformed(
    auth: Auth, trusted_key: rsa.RSAPrivateKey
) -> None:
    header, _, signature = sign(trusted_key, "k1").split(".")
    await assert_refused(auth, f"{header}.!!!!.{signature}", "malformed")


async def test_a_tampered_payload_fails_the_signature(
    auth: Auth, trusted_key: rsa.RSAPrivateKey
) -> None:
    header, _, signature = sign(trusted_key, "k1").split(".")
    forged = b64(json.dumps(claims(username="root")).encode())
    await assert_refused(auth, f"{header}.{forged}.{signature}", "bad_signature")


async def test_the_attackers_key_under_a_trusted_kid_fails_the_signature(
    auth: Auth, attacker_key: rsa.RSAPrivateKey
) -> None:
    await assert_refused(auth, sign(attacker_key, "k1"), "bad_signature")


@pytest.mark.parametrize("header", ["jku", "x5u"])
async def test_a_key_url_in_the_header_is_never_followed(
    auth: Auth,
    aiohttp_server: AiohttpServer,
    attacker_key: rsa.RSAPrivateKey,
    header: str,
) -> None:
    evil = JwksServer(keys=[public_jwk(attacker_key, "k1"), public_jwk(attacker_key, "evil")])
    evil.server = await aiohttp_server(evil.app())
    await assert_refused(auth, sign(attacker_key, "k1", {header: evil.url}), "bad_signature")
    await assert_refused(auth, sign(attacker_key, "evil", {header: evil.url}), "unknown_kid")
    assert evil.requests == 0


async def test_an_embedded_jwk_header_is_ignored(
    auth: Auth, attacker_key: rsa.RSAPrivateKey
) -> None:
    embedded = public_jwk(attacker_key, "k1")
    await assert_refused(auth, sign(attacker_key, "k1", {"jwk": embedded}), "bad_signature")
    x5c = {"x5c": ["MIIBfake"], "jwk": public_jwk(attacker_key, "evil")}
    await assert_refused(auth, sign(attacker_key, "evil", x5c), "unknown_kid")


async def test_an_unknown_kid_is_refused(auth: Auth, trusted_key: rsa.RSAPrivateKey) -> None:
    await assert_refused(auth, sign(trusted_key, "nope"), "unknown_kid")


async def test_wrongly_typed_claims_are_malformed(
    auth: Auth, trusted_key: rsa.RSAPrivateKey
) -> None:
    await assert_refused(auth, sign(trusted_key, "k1", iat="yesterday"), "malformed")
    await assert_refused(auth, sign(trusted_key, "k1", **{"cognito:groups": "admin"}), "malformed")
    await assert_refused(auth, sign(trusted_key, "k1", scope=["a"]), "malformed")
    await assert_refused(auth, sign(trusted_key, "k1", sub=42), "malformed")


async def test_the_observer_hears_every_reason_from_the_fixed_set(
    auth: Auth, trusted_key: rsa.RSAPrivateKey
) -> None:
    now = int(time.time())
    await assert_refused(auth, sign(trusted_key, "k1", exp=now - 600), "expired")
    await assert_refused(auth, sign(trusted_key, "zz"), "unknown_kid")
    await assert_refused(auth, "x", "malformed")
    assert await auth.verifier.verify(sign(trusted_key, "k1"))
    assert auth.observer.failures == ["expired", "unknown_kid", "malformed"]
    assert set(auth.observer.failures) <= FAILURE_REASONS


async def test_refusals_log_nothing_of_the_token(
    auth: Auth, trusted_key: rsa.RSAPrivateKey, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    tokens = [
        sign(trusted_key, "k1", exp=int(time.time()) - 600),
        sign(trusted_key, "k1", client_id="other"),
        sign(trusted_key, "nope"),
    ]
    for token in tokens:
        with pytest.raises(Unauthenticated, match="invalid or missing access token"):
            await auth.verifier.verify(token)
    for token in tokens:
        for part in token.split("."):
            assert part not in caplog.text


async def test_a_verifier_needs_at_least_one_client_id(auth: Auth) -> None:
    with pytest.raises(ValueError, match="client id"):
        TokenVerifier(auth.cache, issuer=ISSUER, client_ids=[], leeway=0, observer=auth.observer)
