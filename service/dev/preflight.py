"""CORS preflights answered by the dev moto server itself, before moto routes the request.

A browser page signs in against the dev Cognito pool (the example client, docs/frontend.md):
its calls carry `X-Amz-Target` and a JSON content type, so each is preceded by an OPTIONS
preflight, which carries neither. moto picks a backend from those headers, so it sends a
preflight to S3's "list buckets", whose answer moto 5.2.6 no longer renders (a 500), and the
browser refuses the call that would follow. Answered here, a preflight never reaches a
backend; the call itself still gets moto's own CORS headers (flask-cors).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from moto.moto_server.werkzeug_app import DomainDispatcherApplication

StartResponse = Callable[..., Any]
_METHODS = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"
_MAX_AGE_S = "600"
_dispatch = DomainDispatcherApplication.__call__


def _answer_preflights(
    self: DomainDispatcherApplication, environ: dict[str, Any], start_response: StartResponse
) -> Iterable[bytes]:
    method = environ.get("HTTP_ACCESS_CONTROL_REQUEST_METHOD")
    if environ.get("REQUEST_METHOD") != "OPTIONS" or method is None:
        result: Iterable[bytes] = _dispatch(self, environ, start_response)
        return result
    headers = [
        ("Access-Control-Allow-Origin", environ.get("HTTP_ORIGIN", "*")),
        ("Access-Control-Allow-Methods", _METHODS),
        ("Access-Control-Allow-Headers", environ.get("HTTP_ACCESS_CONTROL_REQUEST_HEADERS", "*")),
        ("Access-Control-Max-Age", _MAX_AGE_S),
        ("Vary", "Origin"),
        ("Content-Length", "0"),
    ]
    start_response("204 No Content", headers)
    return [b""]


def install() -> None:
    DomainDispatcherApplication.__call__ = _answer_preflights  # type: ignore[method-assign]
