"""Content negotiation on Accept-Encoding (RFC 9110, 12.5.3): which stored encoding of a body
a client gets, and the ETag that names that representation."""

from __future__ import annotations

from functools import lru_cache

from service.catalog.render import CODINGS

IDENTITY = "identity"
# Bounded: browsers send a handful of distinct values; anything else only costs a parse.
_MEMO = 1024
# Where identity ranks when the client names neither it nor `*`: acceptable (RFC 9110), and
# below every coding the client did name.
_UNNAMED_IDENTITY = 1e-9


@lru_cache(maxsize=_MEMO)
def preferred(accept_encoding: str) -> tuple[str, ...]:
    """The codings of CODINGS that `accept_encoding` prefers to identity, most wanted first
    (equal weights in CODINGS' order; a coding the client does not name is refused unless `*`
    accepts it). Empty: send the body as it is, which is also what a
    client gets that refuses identity and every coding we have (no 406: an unencoded body is
    more use to it than an error)."""
    named: dict[str, float] = {}
    for item in accept_encoding.split(","):
        name, _, params = item.partition(";")
        name = name.strip().lower()
        weight = _weight(params)
        if name and weight is not None:
            named.setdefault("gzip" if name == "x-gzip" else name, weight)
    star = named.get("*")
    identity = named.get(IDENTITY, star if star is not None else _UNNAMED_IDENTITY)
    # A tie with identity goes to the coding: the client accepts both, and fewer bytes win.
    ranked = sorted(
        (-weight, rank, coding)
        for rank, coding in enumerate(CODINGS)
        if (weight := named.get(coding, star or 0.0)) > 0 and weight >= identity
    )
    return tuple(coding for _, _, coding in ranked)


def _weight(params: str) -> float | None:
    """The item's q (1 when absent), or None when it is malformed (the item is ignored)."""
    for param in params.split(";"):
        key, _, value = param.partition("=")
        if key.strip().lower() == "q":
            try:
                weight = float(value.strip())
            except ValueError:
                return None
            return weight if 0.0 <= weight <= 1.0 else None
    return 1.0


def representation_etag(etag: str, coding: str) -> str:
    """The strong ETag of `coding`'s encoding of the body whose ETag is `etag`: a 304 is
    right only for the representation it is asked about. It still starts as `etag` does, so
    an If-Match with it names the same version (render.version_from_etag)."""
    return f"{etag[:-1]}-{coding}{etag[-1]}"
