"""Request bodies: size, media type, JSON syntax and field rules, each with its own status."""

from __future__ import annotations

from typing import TypeVar

import orjson
from aiohttp import web
from pydantic import BaseModel, ValidationError

from service import errors

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
    # client_max_size on the app turns an oversized body into 413 here.
    raw = await request.read()
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
