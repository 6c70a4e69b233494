"""Which request a stream record's change came from, so that the consumer's log line (and span)
about the record names it, as the request's own lines do.

A record names a request only when it is a change the API noted in the ledger (the consumer
found it there, service.streams.ledger): the item's `_rid` was then written by that very
change (service.store.changes). No other record names one, though its item may carry an id: a
console edit keeps the `_rid` of the item's last API write, a copy to a new key carries its
source's, and neither is the edit's own. A REMOVE has no new image, and its old image holds the
id of the write before the deletion, so the id of an API deletion comes from the ledger, which
noted it with the deletion (`removed_by`); a REMOVE the ledger did not note (a console delete)
names none, and neither does one matched to a note of a release before ids.

One line per record: at info for the API's changes (admin writes, a few items each), at debug
for the rest, which a migration or a bulk edit writes by the million.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from opentelemetry.trace import SpanKind, Tracer

from metrics import waits
from service.store import keys
from service.store.changes import request_of

log = logging.getLogger(__name__)


def request_id_of(
    record: Mapping[str, Any], *, noted: bool, removed_by: str | None = None
) -> str | None:
    """The id of the request whose change `record` is; None unless the ledger noted it.
    `removed_by`: the id the ledger noted with a deletion, a REMOVE's only source of one."""
    if not noted:
        return None
    new = record.get("dynamodb", {}).get("NewImage")
    return removed_by if new is None else request_of(new)


@contextmanager
def on_behalf_of(request_id: str | None) -> Iterator[None]:
    """Log lines written inside name `request_id`, and none when it is None, whatever box the
    caller runs in: the box is what the log configuration reads (service.runtime.logs)."""
    token = waits.begin(request_id or "")
    try:
        yield
    finally:
        waits.end(token)


def log_applied(
    record: Mapping[str, Any],
    *,
    effect: str,
    noted: bool,
    removed_by: str | None = None,
    tracer: Tracer | None = None,
) -> None:
    """One line for one applied record; `effect`: handled | invalidated | none, as counted;
    `removed_by` as for `request_id_of`."""
    request_id = request_id_of(record, noted=noted, removed_by=removed_by)
    change = record.get("dynamodb", {})
    image = change.get("NewImage") or change.get("OldImage") or {}
    pk, sk = _string(image, keys.PK), _string(image, keys.SK)
    fields = {
        "stream_event": str(record.get("eventName", "")),
        "effect": effect,
        "item_kind": keys.kind_of(pk, sk) if pk and sk else None,
        "pk": pk,
        "sk": sk,
        "sequence": change.get("SequenceNumber"),
    }
    level = logging.INFO if noted else logging.DEBUG
    with on_behalf_of(request_id):
        if tracer is None or request_id is None:
            log.log(level, "stream record applied", extra=fields)
            return
        # A span for the API's own changes only: one a record would trace a migration's every
        # item. Its duration says nothing (the record is applied); its tags find the write.
        with tracer.start_as_current_span(
            "stream record",
            kind=SpanKind.CONSUMER,
            attributes={
                "hustlehub.request_id": request_id,
                "hustlehub.stream_event": fields["stream_event"],
                "hustlehub.effect": effect,
                "hustlehub.item_kind": fields["item_kind"] or "",
            },
        ):
            log.log(level, "stream record applied", extra=fields)


def _string(image: Mapping[str, Any], name: str) -> str | None:
    value = image.get(name)
    if isinstance(value, Mapping) and isinstance(value.get("S"), str):
        return str(value["S"])
    return None
