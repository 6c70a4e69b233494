"""OpenAPI 3.1, built from the route table and the pydantic models, rendered once at startup."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import orjson
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from service.api.params import DEFAULT_LIMIT, MAX_CURSOR_CHARS, MAX_LIMIT
from service.api.routes import Route
from service.catalog.category_rows import CHUNK_ROWS, MAX_SCAN_CHUNKS
from service.catalog.listing_filter import (
    MAX_INCOME,
    MAX_LOCATION_CHARS,
    MAX_SKILL_CHARS,
    MAX_SKILLS,
    PERIODS,
)

_REF = "#/components/schemas/{model}"
_PARAM_RE = re.compile(r"{(\w+)}")

_PROBLEM: dict[str, Any] = {
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["loc", "msg"],
                "properties": {
                    "loc": {"type": "array", "items": {"type": ["string", "integer"]}},
                    "msg": {"type": "string"},
                },
            },
        },
    },
}


def _schemas(routes: Sequence[Route]) -> dict[str, Any]:
    entries: list[tuple[type[BaseModel], Any]] = []
    for route in routes:
        if route.model is not None:
            entries.append((route.model, "serialization"))
        if route.body is not None:
            entries.append((route.body, "validation"))
    _, top = models_json_schema(entries, by_alias=True, ref_template=_REF)
    schemas: dict[str, Any] = top.get("$defs", {})
    schemas["Problem"] = _PROBLEM
    return schemas


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": _REF.format(model=model.__name__)}


def _success_schema(route: Route) -> dict[str, Any] | None:
    if route.model is None:
        return None
    if route.shape == "list":
        return {
            "type": "object",
            "required": ["items"],
            "properties": {"items": {"type": "array", "items": _ref(route.model)}},
        }
    if route.shape == "page":
        return {
            "type": "object",
            "required": ["items", "nextCursor"],
            "properties": {
                "items": {"type": "array", "items": _ref(route.model)},
                "nextCursor": {"type": ["string", "null"]},
            },
        }
    return _ref(route.model)


def _query(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema,
    }


_AMOUNT = {"type": "integer", "minimum": 0, "maximum": MAX_INCOME}

# service.catalog.listing_filter states the semantics these describe.
_FILTERS: list[dict[str, Any]] = [
    _query(
        "location",
        "Listings whose location contains this text, case-insensitively.",
        {"type": "string", "minLength": 1, "maxLength": MAX_LOCATION_CHARS},
    ),
    _query("remote", "Listings whose remote flag is this.", {"type": "boolean"}),
    {
        **_query(
            "skills",
            "Listings that have ALL of these skills (case-insensitive, whole skills). "
            "Repeat the parameter or separate skills with commas; at most "
            f"{MAX_SKILLS} distinct skills.",
            {
                "type": "array",
                "maxItems": MAX_SKILLS,
                "items": {"type": "string", "minLength": 1, "maxLength": MAX_SKILL_CHARS},
            },
        ),
        "style": "form",
        "explode": True,
    },
    _query(
        "currency",
        "Listings whose incomePotential is in this currency (ISO 4217).",
        {"type": "string", "pattern": "^[A-Z]{3}$"},
    ),
    _query(
        "period",
        "Listings whose incomePotential is per this period.",
        {"type": "string", "enum": list(PERIODS)},
    ),
    _query(
        "incomeMin",
        "Listings whose incomePotential.max is at least this (their range overlaps "
        "[incomeMin, incomeMax]). Needs currency and period: amounts are never converted.",
        _AMOUNT,
    ),
    _query(
        "incomeMax",
        "Listings whose incomePotential.min is at most this. Needs currency and period; "
        "must not be below incomeMin.",
        _AMOUNT,
    ),
]


# docs/api.md "Filtered category pages" says the same.
FILTERED_PAGES = (
    "With filters, one request scans a bounded number of the category's listings "
    f"({MAX_SCAN_CHUNKS * CHUNK_ROWS:,}, newest first, from the cursor on). A page that ran out "
    "of that budget before it held `limit` matches answers the matches it found, possibly "
    "none, with a `nextCursor` to go on: a page may hold fewer than `limit` items while "
    "`nextCursor` is not null. Only `nextCursor: null` says the matches have ended."
)


def _parameters(route: Route) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in _PARAM_RE.findall(route.path)
    ]
    if route.paged:
        found += [
            {"name": "limit", "in": "query", "required": False,
             "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT,
                        "default": DEFAULT_LIMIT}},
            {"name": "cursor", "in": "query", "required": False,
             "schema": {"type": "string", "maxLength": MAX_CURSOR_CHARS}},
        ]  # fmt: skip
    if route.filtered:
        found += _FILTERS
    if route.conditional:
        found.append({"name": "If-Match", "in": "header", "required": True,
                      "schema": {"type": "string"}})  # fmt: skip
    return found


def _operation(route: Route) -> dict[str, Any]:
    responses: dict[str, Any] = {}
    schema = _success_schema(route)
    for status in route.success:
        if route.shape == "none":
            responses[str(status)] = {"description": "done"}
        elif route.shape == "text":
            # OpenMetrics when the scraper asks for it (service.api.ops), else plain text.
            text = {"schema": {"type": "string"}}
            responses[str(status)] = {
                "description": "ok",
                "content": {"text/plain": text, "application/openmetrics-text": text},
            }
        elif schema is None:
            responses[str(status)] = {
                "description": "ok",
                "content": {"application/json": {"schema": {}}},
            }
        else:
            responses[str(status)] = {
                "description": "ok",
                "content": {"application/json": {"schema": schema}},
            }
    if route.cached:
        responses["304"] = {"description": "not modified (If-None-Match)"}
    responses["default"] = {
        "description": "a problem (RFC 9457)",
        "content": {"application/problem+json": {"schema": {"$ref": _REF.format(model="Problem")}}},
    }
    operation: dict[str, Any] = {
        "summary": route.summary,
        "operationId": route.handler.__name__,
        "parameters": _parameters(route),
        "responses": responses,
    }
    if route.filtered:
        operation["description"] = FILTERED_PAGES
    if route.body is not None:
        operation["requestBody"] = {
            "required": route.method != "PUT",
            "content": {"application/json": {"schema": _ref(route.body)}},
        }
    if route.auth != "public":
        operation["security"] = [{"cognito": []}]
    return operation


def build(routes: Sequence[Route]) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Hustle Hub directory", "version": "1.0.0"},
        "paths": paths,
        "components": {
            "schemas": _schemas(routes),
            "securitySchemes": {
                "cognito": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
            },
        },
    }


def render(routes: Sequence[Route]) -> bytes:
    return orjson.dumps(build(routes))
