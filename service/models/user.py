from __future__ import annotations

from typing import Annotated

from pydantic import StringConstraints

from service.models.base import PatchModel, Timestamp, WireModel

Sub = Annotated[
    str, StringConstraints(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:@-]+$")
]
DisplayName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80)]


class UserProfile(WireModel):
    sub: Sub
    email: str = ""
    display_name: str = ""
    is_admin: bool = False
    created_at: Timestamp


class ProfileUpdate(PatchModel):
    display_name: DisplayName | None = None
