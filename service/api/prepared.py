"""A fresh cached answer sent as one buffer: its head serialised once, its body as stored.

aiohttp builds every response field by field: a header multidict, the status line, the
Content-Length and Date, the `on_response_prepare` signal, then a serialisation of it all.
Profiled under wrk, that was a quarter of an in-process hit's time, more than the cache lookup
and our wrapper together. Every field of a fresh cached answer but a few is fixed by what it
answers (the representation's ETag, the layer, Cache-Control, Vary, the coding, the length), so
service.api.responses serialises those once per representation (`head`) and memoises them;
what differs per request (Date, X-Request-Id, CORS, Connection) is set on `headers` as on any
response and appended when the answer is written.

It is a StreamResponse to everything that handles one (the endpoint wrapper, CORS, the access
log, aiohttp's connection loop), which reads only `status`, `headers`, `keep_alive`,
`body_length` and calls `prepare` and `write_eof`; StreamResponse's constructor is not run,
so what those read is set here. The head's fields must not be set again through `headers`.
"""

from __future__ import annotations

import time
from email.utils import formatdate

from aiohttp import hdrs, web
from aiohttp.abc import AbstractStreamWriter
from aiohttp.web_request import BaseRequest
from multidict import CIMultiDict

# Not aiohttp's default, which names the exact Python and aiohttp versions to anyone asking.
SERVER = "hustlehub"
_STATUS_LINE_11 = b"HTTP/1.1 200 OK\r\n"
_KEEP_ALIVE_10 = b"Connection: keep-alive\r\n"
_CLOSE = b"Connection: close\r\n"
# From this size the body is handed to the transport beside the head (one writev on uvloop)
# rather than copied behind it: a category page is 24 KB. aiohttp draws its line here too.
_WRITEV_BYTES = 2048


def head(fields: dict[str, str], length: int) -> bytes:
    """The fixed header lines of an answer with `fields` and a body of `length` bytes."""
    for name, value in fields.items():
        if "\r" in value or "\n" in value:
            raise ValueError(f"header {name} must be a single line")
    lines = "".join(f"{name}: {value}\r\n" for name, value in fields.items())
    return f"{lines}Content-Length: {length}\r\nServer: {SERVER}\r\n".encode("latin-1")


class _Date:
    """RFC 9110's IMF-fixdate of the current second, formatted once a second."""

    __slots__ = ("_line", "_second")

    def __init__(self) -> None:
        self._second = -1
        self._line = b""

    def line(self) -> bytes:
        now = int(time.time())
        if now != self._second:
            self._second = now
            self._line = f"Date: {formatdate(now, usegmt=True)}\r\n".encode("latin-1")
        return self._line


_date = _Date()


class Prepared(web.StreamResponse):
    """A 200 with a body whose head lines were made once (`head`); `source` is the cache
    layer that answered, as its X-Cache line says. The endpoint wrapper sets `request_id`
    (its X-Request-Id line); `headers` holds any other field of this request's own (CORS,
    Connection), made only when one is set."""

    # What every prepared answer starts with, as class attributes (as StreamResponse keeps
    # its own defaults): each is set on an instance only when it differs, which on the hot
    # path is never.
    _status = 200
    _reason = "OK"
    _extra: CIMultiDict[str] | None = None
    request_id = ""

    def __init__(self, head_lines: bytes, body: bytes, source: str) -> None:
        # Not StreamResponse.__init__: its status and header parsing is what this skips.
        self._state = {}
        self._head = head_lines
        self._prepared_body = body
        self.source = source

    @property
    def headers(self) -> CIMultiDict[str]:
        if self._extra is None:
            self._extra = CIMultiDict()
        return self._extra

    @property
    def body(self) -> bytes:
        return self._prepared_body

    @property
    def content_length(self) -> int:
        return len(self._prepared_body)

    @content_length.setter
    def content_length(self, value: int | None) -> None:
        raise AttributeError("a prepared answer's length is fixed by its body")

    async def prepare(self, request: BaseRequest) -> AbstractStreamWriter | None:
        if self._eof_sent or self._payload_writer is not None:
            return self._payload_writer
        keep_alive = self._keep_alive
        if keep_alive is None:
            keep_alive = self._keep_alive = request.keep_alive
        version = request.version
        if version.major == 1 and version.minor == 1:
            status_line, connection = _STATUS_LINE_11, b"" if keep_alive else _CLOSE
        else:
            status_line = f"HTTP/{version.major}.{version.minor} 200 OK\r\n".encode("latin-1")
            connection = _KEEP_ALIVE_10 if keep_alive else b""
        extra = self._extra
        fields = b""
        if extra:
            for name, value in extra.items():
                if "\r" in value or "\n" in value:
                    raise ValueError(f"header {name} must be a single line")
            fields = "".join(f"{name}: {value}\r\n" for name, value in extra.items()).encode(
                "latin-1"
            )
        request_id = self.request_id
        if request_id:
            if "\r" in request_id or "\n" in request_id:
                raise ValueError("a request id must be a single line")
            fields += f"X-Request-Id: {request_id}\r\n".encode("latin-1")
        body = b"" if request.method == hdrs.METH_HEAD else self._prepared_body
        writer = self._payload_writer = request.writer
        self._req = request
        self._body_length = len(body)
        lines = (status_line, self._head, _date.line(), fields, connection, b"\r\n")
        transport = writer.transport
        if len(body) >= _WRITEV_BYTES and transport is not None and not transport.is_closing():
            # Immutable bytes only: asyncio's own writelines may send them without copying.
            transport.writelines((b"".join(lines), body))
            await writer.drain()
            await writer.write_eof()  # nothing left to send: marks the writer finished
        else:
            await writer.write_eof(b"".join((*lines, body)))
        self._eof_sent = True
        return writer

    async def write_eof(self, data: bytes = b"") -> None:
        # Everything went out in prepare.
        if data:
            raise RuntimeError("a prepared answer's body is fixed")
