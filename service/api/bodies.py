"""Request bodies: size, media type, JSON syntax and field rules, each with its own status;
and what a client that sends a body badly gets (413 up front, 408, 400), cheaply."""

from __future__ import annotations

import asyncio
from typing import TypeVar

import orjson
from aiohttp import HttpVersion11, hdrs, web
from pydantic import BaseModel, ValidationError

from service import errors
from service.runtime.appkeys import SETTINGS

M = TypeVar("M", bound=BaseModel)


def _is_json(content_type: str) -> bool:
    return content_type == "application/json" or (
        content_type.startswith("application/") and content_type.endswith("+json")
    )


def field_errors(exc: ValidationError) -> list[errors.FieldError]:
    return [
        errors.FieldError(loc=tuple(err["loc"]), msg=err["msg"])
        for err in exc.errors(include_url=False, include_input=False)
    ]


async def parse_body(request: web.Request, model: type[M]) -> M:
    if not _is_json(request.content_type):
        raise web.HTTPUnsupportedMediaType(text="the body must be application/json")
    raw = await read_body(request)
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise errors.BadInput(f"the body is not valid JSON: {exc.msg}") from exc
    if not isinstance(data, dict):
        raise errors.InvalidFields(
            "the body must be a JSON object",
            [errors.FieldError(loc=("body",), msg="must be a JSON object")],
        )
    try:
        # by_alias: the wire speaks camelCase; populate_by_name would also let snake_case in,
        # so validate by alias only.
        return model.model_validate(data, by_alias=True, by_name=False)
    except ValidationError as exc:
        raise errors.InvalidFields("the body has invalid fields", field_errors(exc)) from exc


async def read_body(request: web.Request) -> bytes:
    """The whole body, within the size limit and the body timeout. A declared length past the
    limit is refused before a byte is read; a body that does not arrive in time is 408; one that
    does not decode as its Content-Encoding (or chunked framing) says is 400, and its connection
    closes, since the parser cannot find where the next request starts."""
    settings = request.config_dict[SETTINGS]
    declared = request.content_length
    if declared is not None and declared > settings.max_body_bytes:
        raise web.HTTPRequestEntityTooLarge(
            max_size=settings.max_body_bytes, actual_size=declared, headers=_CLOSE
        )
    try:
        async with asyncio.timeout(settings.http_body_timeout_s):
            # client_max_size on the app turns a body that grows past the limit into 413 here.
            return await request.read()
    except TimeoutError:
        _abandon(request)
        raise web.HTTPRequestTimeout(
            text=f"the body did not arrive within {settings.http_body_timeout_s:g} s",
            headers=_CLOSE,
        ) from None
    except web.RequestPayloadError as exc:
        _abandon(request)
        raise errors.BadInput(
            "the body could not be read: it is not what its Content-Encoding or"
            " Transfer-Encoding says"
        ) from exc


_CLOSE = {"Connection": "close"}


async def expect_continue(request: web.Request) -> None:
    """`Expect: 100-continue`: "go on" unless the declared length is past the limit; then the
    client, still waiting, gets the handler's 413 (read_body) without sending the body. (aiohttp's
    own handler sends 100 Continue to every request, before any handler could look.) Other
    expectations are ignored, as RFC 9110 allows."""
    declared = request.content_length
    if declared is not None and declared > request.config_dict[SETTINGS].max_body_bytes:
        return
    expect = request.headers.get(hdrs.EXPECT, "")
    if request.version == HttpVersion11 and expect.lower() == "100-continue":
        await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        request.writer.output_size = 0  # what follows is the answer itself


def _abandon(request: web.Request) -> None:
    # aiohttp reads what is left of an unread body after the answer ("lingering"): up to 10 s
    # of a stalled one, and a decoding error met again there is logged with its traceback.
    # Marked complete, the rest is dropped and the connection closes once the answer is sent.
    # (A body refused for its declared size is left to lingering: the client is likely still
    # sending it, and closing on unread data would reset the connection before it reads 413.)
    request.content.feed_eof()
    request.protocol.close()
