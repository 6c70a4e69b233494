"""Opaque pagination cursors: base64url(JSON) + "." + base64url(HMAC-SHA256).

The MAC covers a scope string (the list the cursor belongs to, e.g. its partition) as well as
the body, so a cursor that was edited, or taken from another list, is refused with BadInput
before anything of it reaches DynamoDB.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from typing import Any

from service.errors import BadInput
from service.store.keys import Key

MAX_CURSOR_CHARS = 2048


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class CursorCodec:
    def __init__(self, secret: bytes) -> None:
        if not secret:
            raise ValueError("cursor secret must not be empty")
        self._secret = secret

    def _mac(self, scope: str, body: bytes) -> bytes:
        # The NUL separator keeps (scope, body) pairs unambiguous.
        return hmac.new(self._secret, scope.encode() + b"\0" + body, hashlib.sha256).digest()

    def encode(self, scope: str, payload: dict[str, Any]) -> str:
        body = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
        return f"{_b64(body)}.{_b64(self._mac(scope, body))}"

    def decode(self, scope: str, token: str) -> dict[str, Any]:
        if len(token) > MAX_CURSOR_CHARS or token.count(".") != 1:
            raise BadInput("invalid cursor")
        body_text, mac_text = token.split(".")
        try:
            body, mac = _unb64(body_text), _unb64(mac_text)
        except (binascii.Error, ValueError) as exc:
            raise BadInput("invalid cursor") from exc
        if not hmac.compare_digest(mac, self._mac(scope, body)):
            raise BadInput("invalid cursor")
        try:
            payload = json.loads(body)
        except ValueError as exc:
            raise BadInput("invalid cursor") from exc
        if not isinstance(payload, dict):
            raise BadInput("invalid cursor")
        return payload

    def encode_key(self, scope: str, key: Key) -> str:
        return self.encode(scope, {"k": key})

    def decode_key(self, scope: str, token: str, *, attrs: tuple[str, ...]) -> Key:
        """A LastEvaluatedKey of exactly the `attrs` string attributes, or BadInput."""
        raw = self.decode(scope, token).get("k")
        if not isinstance(raw, dict) or set(raw) != set(attrs):
            raise BadInput("invalid cursor")
        key: Key = {}
        for name, value in raw.items():
            if not (isinstance(value, dict) and set(value) == {"S"}):
                raise BadInput("invalid cursor")
            if not isinstance(value["S"], str):
                raise BadInput("invalid cursor")
            key[name] = {"S": value["S"]}
        return key
