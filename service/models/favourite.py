from __future__ import annotations

from service.models.base import EntityId, Timestamp, WireModel
from service.models.listing import ListingSummary


class Favourite(WireModel):
    listing_id: EntityId
    saved_at: Timestamp
    listing: ListingSummary
