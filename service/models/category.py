from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints

from service.models.base import EntityId, PatchModel, Slug, Timestamp, Version, WireModel

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]
Description = Annotated[str, StringConstraints(max_length=2000)]
SortOrder = Annotated[int, Field(ge=0, le=999_999)]


class Category(WireModel):
    id: EntityId
    slug: Slug
    name: Name
    description: Description = ""
    sort_order: SortOrder = 0
    listing_count: int | None = None
    version: Version
    created_at: Timestamp
    updated_at: Timestamp


class CategoryCreate(WireModel):
    slug: Slug
    name: Name
    description: Description = ""
    sort_order: SortOrder = 0


class CategoryPatch(PatchModel):
    slug: Slug | None = None
    name: Name | None = None
    description: Description | None = None
    sort_order: SortOrder | None = None
