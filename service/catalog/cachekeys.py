"""Every cache key and tag the service uses, in one place.

The cache snapshots an entry's tag generations *before* its loader runs (that is what makes a
slow loader unable to store pre-write data), so tags must be known from the request alone: they
are derived from the `{ref}` in the path, which is an id or a slug. A write therefore
invalidates the tags of both the id and every slug it touched; an entry reached by either form
of ref is dropped. Negative entries (404 for an unknown ref) carry the same tags as a positive
entry for that ref would, so the create that makes the ref exist drops them.

What each tag covers:
- `categories`: the category list (names, order, listing counts).
- `c:<ref>`: a category by id or slug, its listing pages, and the chunks of its listings
  that filtered pages are computed from (`service.catalog.category_rows`): a write drops
  filtered results exactly when it drops the unfiltered pages.
- `l:<ref>`: a listing by id or slug.
Ids and slugs share one namespace per kind: a slug equal to another entity's id only makes an
invalidation drop a little more than it must, never less.
- `listings`: every cached listing body; dropped when a category's slug or name changes,
  because listing bodies show them (rare admin action, so a broad drop is the simple choice).
"""

from __future__ import annotations

CATEGORIES = "categories"
LISTINGS = "listings"
# The size of a page asked for without a limit (service.api.params.DEFAULT_LIMIT): defined here
# so that the first page's key, the hottest of them, is made without formatting the number.
DEFAULT_PAGE_LIMIT = 50
_FIRST_PAGE = f":{DEFAULT_PAGE_LIMIT}:"


def categories_key() -> str:
    return "categories"


def category_key(ref: str) -> str:
    return f"category:{ref}"


def category_page_key(ref: str, limit: int, cursor: str | None) -> str:
    return f"category-page:{ref}:{limit}:{cursor or ''}"


def first_page_key(ref: str) -> str:
    """category_page_key(ref, DEFAULT_PAGE_LIMIT, None)."""
    return f"category-page:{ref}{_FIRST_PAGE}"


def category_chunk_key(ref: str, index: int) -> str:
    # One per chunk of a category ref, whatever the filter or cursor: positional chunks
    # (service.catalog.category_rows), so the key space is as bounded as the pages'. The number
    # is the body's format: a deploy that changes the format must change it, so that no
    # instance decodes another version's entries.
    return f"category-chunk.1:{ref}:{index}"


def listing_key(ref: str) -> str:
    return f"listing:{ref}"


def category_tags(*refs: str) -> list[str]:
    """Tags of a category reached by any of `refs` (ids or slugs), and of its pages."""
    return [f"c:{ref}" for ref in refs]


def listing_tags(*refs: str) -> list[str]:
    return [f"l:{ref}" for ref in refs]


def listing_entry_tags(ref: str) -> list[str]:
    return [*listing_tags(ref), LISTINGS]
