"""The HTTP connection: aiohttp's, with what a bad client costs bounded and answered our way.

aiohttp's parser answers a request it cannot parse before any route or handler runs: in plain
text that echoes the offending bytes, with a traceback in the log. Here that answer is
problem+json with a fixed phrase per kind of error, logged in one line at most and counted as
the client error it is. A request head that starts but does not finish within the header
timeout closes its connection (aiohttp's own timer, the keep-alive timeout, only bounds the
time from connecting or from the previous answer, whatever arrives meanwhile).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from aiohttp import http_exceptions, web
from aiohttp.web_request import BaseRequest

from service.api.problems import problem

log = logging.getLogger(__name__)

# Most specific first: the first isinstance match names the error; never the input itself.
_PHRASES: tuple[tuple[type[BaseException], str], ...] = (
    (http_exceptions.LineTooLong, "the request line or a header field is too long"),
    (http_exceptions.BadHttpMethod, "the request method is not valid"),
    (http_exceptions.InvalidURLError, "the request target is not a valid URL"),
    (http_exceptions.InvalidHeader, "a header field is not valid"),
    (http_exceptions.PayloadEncodingError, "the body is not what its headers say it is"),
    (http_exceptions.BadStatusLine, "the request line is not valid"),
    (http_exceptions.HttpProcessingError, "the request is not valid HTTP/1.1"),
)
# What a client can cause, not a failure of ours: one line, no traceback.
_CLIENT_FAULTS = (
    http_exceptions.HttpProcessingError,
    web.RequestPayloadError,
    ConnectionError,
    TimeoutError,
)


class Connection(web.RequestHandler):
    """One client connection. `on_refused(status)` counts a request answered by the parser."""

    def __init__(
        self,
        manager: web.Server,
        *,
        loop: asyncio.AbstractEventLoop,
        header_timeout_s: float,
        on_refused: Callable[[int], None],
        **kwargs: Any,
    ) -> None:
        super().__init__(manager, loop=loop, **kwargs)
        self._header_timeout_s = header_timeout_s
        self._on_refused = on_refused
        self._head_timer: asyncio.TimerHandle | None = None
        self._heads_when_begun = 0

    def data_received(self, data: bytes) -> None:
        # aiohttp counts every request head its parser completes (_request_count): bytes that
        # complete none while no request is being handled belong to a head still arriving.
        heads = self._request_count
        super().data_received(data)
        if self._request_count != heads or self._request_in_progress:
            if self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None
        elif data and self._head_timer is None:
            self._heads_when_begun = heads
            self._head_timer = self._loop.call_later(self._header_timeout_s, self._head_late)

    @property
    def idle(self) -> bool:
        """Waiting for a request that has not begun: closing now loses nothing."""
        waiter = self._waiter
        return waiter is not None and not waiter.done() and self._head_timer is None

    def _head_late(self) -> None:
        self._head_timer = None
        if self._request_count == self._heads_when_begun and not self._request_in_progress:
            log.debug("closing a connection whose request head did not arrive in time")
            self.force_close()

    def connection_lost(self, exc: BaseException | None) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        super().connection_lost(exc)

    def handle_error(
        self,
        request: BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        self.log_exception("error handling a request", exc_info=exc)
        if request.writer.output_size > 0:  # an answer has begun: nothing else can be sent
            raise ConnectionError("an answer was already being sent")
        if status >= 500:
            response = problem(status, "Internal Server Error", "an unexpected error occurred")
        else:
            phrase = next(
                (text for cls, text in _PHRASES if isinstance(exc, cls)),
                "the request could not be parsed",
            )
            response = problem(status, HTTPStatus(status).phrase, phrase)
            self._on_refused(status)
        # The parser cannot tell where the next request would start.
        response.force_close()
        return response

    def log_exception(self, *args: Any, **kw: Any) -> None:
        exc = kw.get("exc_info")
        if isinstance(exc, _CLIENT_FAULTS):
            log.debug("a client's request could not be read: %s", type(exc).__name__)
            return
        super().log_exception(*args, **kw)
