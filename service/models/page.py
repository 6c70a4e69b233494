from __future__ import annotations

from typing import Generic, TypeVar

from pydantic import BaseModel

from service.models.base import WireModel

T = TypeVar("T", bound=BaseModel)


class Page(WireModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None
