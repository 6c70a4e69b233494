"""The settings the post-confirmation trigger runs with: the service's own (one set of
HUSTLEHUB_* variables, read the same way), less the production checks only a running service
needs.

The trigger writes a profile: it verifies no token and signs no cursor that leaves it, so it
is not given the cursor secret or app client ids to satisfy a check (least privilege: a
function that cannot read the cursor secret cannot forge a cursor). The migration's checks
stay: a legacy phase without its DSN is still refused.
"""

from __future__ import annotations

from typing import Self

from pydantic import model_validator

from service.config import Settings


class TriggerSettings(Settings):
    @model_validator(mode="after")
    def _production_is_explicit(self) -> Self:
        # Same name as the service's check, which pydantic replaces with this one.
        return self
