"""Favourites: `USER#<sub>` / `RELATION#FAVOURITE#<listingId>`, indexed by listing for cleanup.

The favourite item holds only the relation and when it was made; pages read the listings
themselves (BatchGetItem) so a summary is never stale. A favourite whose listing has gone
(deleted between the listing's transaction and its favourites' cleanup) is skipped.
"""

from __future__ import annotations

from datetime import datetime

from service.errors import BadInput, NotFound
from service.models.favourite import Favourite
from service.models.listing import ListingSummary
from service.models.page import Page
from service.store import keys, versions
from service.store.batch import batch_get
from service.store.codec import Item, deserialize, load, to_item
from service.store.common import Repository, get_item
from service.store.paging import query_page
from service.store.txn import ControlFlow, Transaction


class _AlreadySaved(ControlFlow):
    pass


def favourite_item(sub: str, listing_id: str, saved_at: datetime) -> Item:
    attrs = {
        "type": "Favourite",
        "listingId": listing_id,
        "savedAt": saved_at,
        **versions.stamp(versions.CURRENT),
    }
    index = keys.favourite_index(sub, listing_id)
    return {**keys.favourite(sub, listing_id), **to_item({**attrs, **index})}


def cursor_scope(sub: str) -> str:
    """What a favourites cursor is signed for: the legacy store
    (service.transition.legacy.favourites) signs the same, so a cursor carries on across a
    migration phase switch."""
    return f"favourites:{sub}"


class FavouriteStore(Repository):
    async def save(self, sub: str, listing_id: str) -> bool:
        """True when newly saved, False when it already was; NotFound for an unknown listing."""
        txn = Transaction()
        txn.check(
            keys.listing(listing_id),
            "attribute_exists(PK)",
            on_fail=lambda _r: NotFound(f"listing {listing_id!r} not found"),
        )
        txn.put(
            favourite_item(sub, listing_id, self._clock()),
            condition="attribute_not_exists(PK)",
            on_fail=lambda _r: _AlreadySaved(),
        )
        try:
            await txn.commit(self._table)
        except _AlreadySaved:
            return False
        return True

    async def unsave(self, sub: str, listing_id: str) -> None:
        await self._table.call("DeleteItem", Key=keys.favourite(sub, listing_id))

    async def get(self, sub: str, listing_id: str) -> Favourite:
        saved = await get_item(self._table, keys.favourite(sub, listing_id), consistent=True)
        listing = await get_item(self._table, keys.listing(listing_id)) if saved else None
        if saved is None or listing is None:
            raise NotFound(f"listing {listing_id!r} is not a favourite")
        return _favourite(saved, listing)

    async def list(self, sub: str, *, limit: int, cursor: str | None) -> Page[Favourite]:
        """Ordered by listing id; a page may hold fewer than `limit` when listings have gone."""
        if not 1 <= limit <= 100:
            raise BadInput("limit out of range")
        scope = cursor_scope(sub)
        start = None
        if cursor is not None:
            start = self._cursors.decode_key(scope, cursor, attrs=keys.TABLE_KEYS)
            if start[keys.PK]["S"] != keys.favourites_of(sub):
                raise BadInput("invalid cursor")
        saved, next_key = await query_page(
            self._table,
            limit=limit,
            start=start,
            key_attrs=keys.TABLE_KEYS,
            KeyConditionExpression="PK = :pk AND begins_with(SK, :prefix)",
            ExpressionAttributeValues={
                ":pk": {"S": keys.favourites_of(sub)},
                ":prefix": {"S": keys.FAVOURITE_PREFIX},
            },
            ConsistentRead=True,
        )
        ids = [str(deserialize(item["listingId"])) for item in saved]
        found = await batch_get(self._table, [keys.listing(i) for i in ids])
        listings = {str(deserialize(item["id"])): item for item in found}
        items = [
            _favourite(item, listings[listing_id])
            for item, listing_id in zip(saved, ids, strict=True)
            if listing_id in listings
        ]
        next_cursor = self._cursors.encode_key(scope, next_key) if next_key else None
        return Page(items=items, next_cursor=next_cursor)


def _favourite(saved: Item, listing: Item) -> Favourite:
    return load(Favourite, saved, listing=load(ListingSummary, listing))
