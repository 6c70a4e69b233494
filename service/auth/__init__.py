"""Cognito access-token verification (`TokenVerifier` over a `JwksCache`) and dev-mode sign-in."""

from service.auth.jwks import MOTO_DEV_KEY_SHA256, JwksCache
from service.auth.observer import FAILURE_REASONS, AuthObserver, NullAuthObserver
from service.auth.principal import Principal
from service.auth.tokens import TokenVerifier

__all__ = [
    "FAILURE_REASONS",
    "MOTO_DEV_KEY_SHA256",
    "AuthObserver",
    "JwksCache",
    "NullAuthObserver",
    "Principal",
    "TokenVerifier",
]
