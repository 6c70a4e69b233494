"""problem+json responses (RFC 9457), and the one table from error class to HTTP status. Their
bytes come from `service.catalog.render.problem_body`, which renders a cached 404 too."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aiohttp import web

from service import errors
from service.catalog import render

PROBLEM_TYPE = "application/problem+json"

# Most specific classes first: the first isinstance match wins.
STATUS_BY_ERROR: tuple[tuple[type[errors.ServiceError], int, str], ...] = (
    (errors.NotFound, 404, "Not Found"),
    (errors.Conflict, 409, "Conflict"),
    (errors.VersionMismatch, 412, "Precondition Failed"),
    (errors.PreconditionRequired, 428, "Precondition Required"),
    (errors.BadInput, 400, "Bad Request"),
    (errors.InvalidFields, 422, "Unprocessable Content"),
    (errors.ItemTooLarge, 413, "Content Too Large"),
    (errors.Unauthenticated, 401, "Unauthorized"),
    (errors.Forbidden, 403, "Forbidden"),
    (errors.StoreUnavailable, 503, "Service Unavailable"),
    (errors.RequestTimeout, 504, "Gateway Timeout"),
    (errors.StoreError, 500, "Internal Server Error"),
)


def problem(
    status: int,
    title: str,
    detail: str,
    *,
    headers: Mapping[str, str] | None = None,
    field_errors: Sequence[errors.FieldError] = (),
) -> web.Response:
    return web.Response(
        status=status,
        body=render.problem_body(status, title, detail, field_errors=field_errors),
        content_type=PROBLEM_TYPE,
        headers={"Cache-Control": "no-store", **(headers or {})},
    )


def from_service_error(exc: errors.ServiceError) -> web.Response:
    status, title = next(
        ((code, name) for cls, code, name in STATUS_BY_ERROR if isinstance(exc, cls)),
        (500, "Internal Server Error"),
    )
    headers: dict[str, str] = {}
    detail = str(exc) or title
    if isinstance(exc, errors.Unauthenticated):
        # The reason is counted, never echoed in detail beyond a fixed phrase.
        headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
        detail = "a valid Cognito access token is required"
    elif isinstance(exc, errors.StoreUnavailable):
        headers["Retry-After"] = str(exc.retry_after)
        detail = "the database is unavailable and no cached copy can serve this request"
    elif isinstance(exc, errors.StoreError):
        detail = "the database failed unexpectedly"
    field_errors = exc.errors if isinstance(exc, errors.InvalidFields) else ()
    return problem(status, title, detail, headers=headers, field_errors=field_errors)


def from_http_exception(exc: web.HTTPException) -> web.Response:
    headers = {k: v for k, v in exc.headers.items() if k.lower() in {"allow", "retry-after"}}
    detail = exc.text if exc.text and not exc.text.startswith(f"{exc.status}:") else exc.reason
    response = problem(exc.status, exc.reason, detail, headers=headers)
    if exc.headers.get("Connection", "").lower() == "close":
        response.force_close()  # what is left of the request cannot be trusted or waited for
    return response
