"""From one item change (its old and new image, as a DynamoDB stream reports them) to the cache
tags it makes stale.

Each item drops the reads that read it (see `cachekeys` for what a tag covers):

item              read by                                tags (old and new slugs alike)
Category          the category by id or slug, its pages  c:<id>, c:<slug>
Category entry    the sorted category list               categories
Listing           the listing by id or slug              l:<id>, l:<slug>
Category listing  the pages of its category              c:<categoryId>, c:<categorySlug>
Slug mapping      what was reached by that slug          c:<slug> or l:<slug>
User, admin grant, favourite, audit event: no cached read shows them, so nothing.

Since an admin write is one transaction over these items, the union of its items' tags is the
set `service.catalog.writes` invalidates: a listingCount change is an ADD on the category (its body
shows the count) and on its entry (the list shows it); a listing that moves changes one copy
in each category. A category whose slug or name changes also drops `listings`, as the API's
write does: listing bodies show both. The refresh that rewrites them (store/denorm.py) changes
each listing item too, and those changes drop each listing by its own tags.

The key says which item it is (`keys.kind_of`), not the `type` attribute, so an item written
by hand is classified by what the service would read it as. An image pair that says the same
thing is no change: equal (DynamoDB writes no record for a write that changes nothing;
emulators may), or equal once schema versions, packed text, the API's change marks and global
tables' `aws:rep:*` attributes are set aside (`codec.logical`), as after `schema upgrade`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from service.catalog.cachekeys import CATEGORIES, LISTINGS, category_tags, listing_tags
from service.store import keys
from service.store.codec import logical

Image = Mapping[str, Any]  # attribute name -> typed value ({"S": ...}), as the stream sends it


def tags_for_change(old: Image | None, new: Image | None) -> frozenset[str]:
    """The tags to invalidate when an item went from `old` to `new` (None: absent)."""
    either = old if old is not None else new
    if either is None or old == new:
        return frozenset()
    if old is not None and new is not None and _same(old, new):
        return frozenset()
    pk, sk = _string(either, keys.PK), _string(either, keys.SK)
    if pk is None or sk is None:
        return frozenset()
    match keys.kind_of(pk, sk):
        case "Category":
            category_id = pk.removeprefix("CATEGORY#")
            tags = set(category_tags(category_id, *_strings("slug", old, new)))
            if old is not None and new is not None and _renamed(old, new):
                tags.add(LISTINGS)
            return frozenset(tags)
        case "CategoryEntry":
            return frozenset({CATEGORIES})
        case "Listing":
            listing_id = pk.removeprefix("LISTING#")
            return frozenset(listing_tags(listing_id, *_strings("slug", old, new)))
        case "CategoryListing":
            category_id = pk.removeprefix("CATEGORY#")
            return frozenset(category_tags(category_id, *_strings("categorySlug", old, new)))
        case "SlugMapping":
            return _slug_tags(pk)
        case _:
            return frozenset()


def _same(old: Image, new: Image) -> bool:
    try:
        return logical(old) == logical(new)
    except ValueError:  # an image this release cannot read: assume it changed
        return False


def _slug_tags(pk: str) -> frozenset[str]:
    named = keys.slug_of_mapping(pk)
    if named is None or not named[1]:
        return frozenset()
    kind, slug = named
    return frozenset(category_tags(slug) if kind == "CATEGORY" else listing_tags(slug))


def _renamed(old: Image, new: Image) -> bool:
    return any(_string(old, name) != _string(new, name) for name in ("slug", "name"))


def _string(image: Image, name: str) -> str | None:
    value = image.get(name)
    if isinstance(value, Mapping):
        text = value.get("S")
        if isinstance(text, str):
            return text
    return None


def _strings(name: str, *images: Image | None) -> list[str]:
    found = (_string(image, name) for image in images if image is not None)
    return sorted({value for value in found if value})
