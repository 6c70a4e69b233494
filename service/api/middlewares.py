"""Error translation and request deadlines: every failure leaves as problem+json."""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from service import errors
from service.api.problems import from_http_exception, from_service_error, problem

log = logging.getLogger(__name__)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except errors.ServiceError as exc:
        if isinstance(exc, errors.StoreError) and not isinstance(exc, errors.StoreUnavailable):
            log.exception("store failure on %s %s", request.method, request.path)
        return from_service_error(exc)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return from_http_exception(exc)
    except ConnectionResetError:
        # The client hung up mid-request (e.g. while sending its body): nobody will read an
        # answer and it is not a server failure. 499 is nginx's "client closed request".
        log.debug("client closed the connection during %s %s", request.method, request.path)
        return web.Response(status=499, reason="Client Closed Request")
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return problem(500, "Internal Server Error", "an unexpected error occurred")


def deadline_middleware(seconds: float, *, own_deadline: frozenset[Handler]) -> Middleware:
    """Bound every request by `seconds`, except handlers that bound their own I/O.

    The cached public reads are answered from memory with no await on a hit; they apply the
    deadline on their miss path only (`Reads`), which keeps a timer per request off the
    hottest path of the service.
    """

    @web.middleware
    async def deadline(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.match_info.handler in own_deadline:
            return await handler(request)
        scope = asyncio.timeout(seconds)
        try:
            async with scope:
                return await handler(request)
        except TimeoutError as exc:
            if not scope.expired():
                raise  # someone else's timeout: not the request deadline
            raise errors.RequestTimeout(f"the request did not finish within {seconds:g} s") from exc

    return deadline
