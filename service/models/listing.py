from __future__ import annotations

from typing import Annotated, Literal, Self

from pydantic import AnyHttpUrl, Field, StringConstraints, model_validator

from service.models.base import EntityId, PatchModel, Slug, Timestamp, Version, WireModel

Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=160)]
Summary = Annotated[str, StringConstraints(max_length=500)]
Description = Annotated[str, StringConstraints(max_length=10_000)]
Location = Annotated[str, StringConstraints(max_length=120)]
Skill = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]
Skills = Annotated[list[Skill], Field(max_length=30)]
Url = Annotated[AnyHttpUrl, Field()]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
Period = Literal["hour", "day", "week", "month", "year", "project"]
Money = Annotated[int, Field(ge=0, le=100_000_000)]


class IncomePotential(WireModel):
    min: Money
    max: Money
    currency: Currency = "USD"
    period: Period = "month"

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.min > self.max:
            raise ValueError("min must not exceed max")
        return self


class Listing(WireModel):
    id: EntityId
    slug: Slug
    title: Title
    summary: Summary = ""
    description: Description = ""
    category_id: EntityId
    category_slug: Slug
    category_name: str
    location: Location = ""
    remote: bool = False
    skills: Skills = Field(default_factory=list)
    income_potential: IncomePotential
    url: str | None = None
    image_url: str | None = None
    version: Version
    created_at: Timestamp
    updated_at: Timestamp


class ListingSummary(WireModel):
    """What a favourites page shows of a listing (denormalised onto the favourite item)."""

    id: EntityId
    slug: Slug
    title: Title
    summary: Summary = ""
    category_slug: Slug
    location: Location = ""
    remote: bool = False
    image_url: str | None = None


class ListingCreate(WireModel):
    slug: Slug
    title: Title
    summary: Summary = ""
    description: Description = ""
    category_id: EntityId
    location: Location = ""
    remote: bool = False
    skills: Skills = Field(default_factory=list)
    income_potential: IncomePotential
    url: Url | None = None
    image_url: Url | None = None


class ListingPatch(PatchModel):
    slug: Slug | None = None
    title: Title | None = None
    summary: Summary | None = None
    description: Description | None = None
    category_id: EntityId | None = None
    location: Location | None = None
    remote: bool | None = None
    skills: Skills | None = None
    income_potential: IncomePotential | None = None
    url: Url | None = None
    image_url: Url | None = None
