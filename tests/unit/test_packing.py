"""Packed text (service.store.packing) and the marks API writes leave (service.store.changes)."""

from __future__ import annotations

import pytest

from service.store import changes, packing
from service.store.codec import logical

PROSE = "Teach beginners to knit hats and scarves on Saturday mornings at the library. " * 20


def test_long_text_is_packed_smaller_and_unpacks_to_itself() -> None:
    stored = packing.pack(PROSE)
    assert isinstance(stored, bytes)
    assert stored[:1] == packing.TAG_ZLIB
    assert len(stored) < len(PROSE) / 4
    assert packing.unpack(stored) == PROSE


def test_short_or_incompressible_text_stays_a_string() -> None:
    assert packing.pack("A short description.") == "A short description."
    assert packing.pack(PROSE[:1000]) == PROSE[:1000]  # under MIN_BYTES
    assert packing.pack("abc", min_bytes=1) == "abc"  # zlib would make it larger


def test_only_declared_fields_are_packed() -> None:
    packed = packing.packed({"description": PROSE, "summary": PROSE, "n": 1})
    assert isinstance(packed["description"], bytes)
    assert packed["summary"] == PROSE
    assert packing.unpacked(packed) == {"description": PROSE, "summary": PROSE, "n": 1}


def test_an_unknown_codec_or_corrupt_bytes_are_refused() -> None:
    with pytest.raises(packing.CorruptText):
        packing.unpack(b"\x02abc")
    with pytest.raises(packing.CorruptText):
        packing.unpack(packing.TAG_ZLIB + b"not zlib")


def test_logical_sets_encoding_versions_and_marks_aside() -> None:
    plain = {"PK": {"S": "LISTING#1"}, "description": {"S": PROSE}}
    stored = packing.pack(PROSE)
    assert isinstance(stored, bytes)
    packed = {
        "PK": {"S": "LISTING#1"},
        "description": {"B": stored},
        "schemaVersion": {"N": "2"},
        "changeId": {"S": "us-east-1/01J.1"},
        "aws:rep:updatetime": {"N": "1"},
    }
    assert logical(plain) == logical(packed) == plain


def test_a_recorded_write_marks_puts_and_updates_and_notes_what_it_changed() -> None:
    key = {"PK": {"S": "CATEGORY#1"}, "SK": {"S": "METADATA#1"}}
    with changes.recording("eu-west-1") as change:
        assert changes.active() is change
        add = change.stamped(
            "UpdateItem",
            {
                "Key": key,
                "UpdateExpression": "ADD listingCount :d",
                "ExpressionAttributeValues": {},
            },
        )
        # No request id: an earlier write's is removed, so it is not read as this one's.
        assert add["UpdateExpression"] == (
            "ADD listingCount :d SET #hh_change = :hh_change REMOVE #hh_rid"
        )
        both = change.stamped(
            "UpdateItem",
            {"Key": key, "UpdateExpression": "SET #a0 = :v0 REMOVE #r0"},
        )
        assert both["UpdateExpression"] == (
            "SET #hh_change = :hh_change, #a0 = :v0 REMOVE #hh_rid, #r0"
        )
        first = add["ExpressionAttributeValues"][":hh_change"]["S"]
        second = both["ExpressionAttributeValues"][":hh_change"]["S"]
        assert first != second
        assert changes.region_of(first) == "eu-west-1"
        change.committed("UpdateItem", both)
        change.committed("DeleteItem", {"Key": {"PK": {"S": "X"}, "SK": {"S": "Y"}}})
    assert changes.active() is None
    assert change.changed == {("CATEGORY#1", "METADATA#1"): second, ("X", "Y"): changes.REMOVED}
    # Once the write is over nothing more is stamped (a task it started may still run).
    late = change.stamped("PutItem", {"Item": {**key}})
    assert "changeId" not in late["Item"]


def test_a_recorded_write_carries_its_request_id_and_a_put_drops_an_old_one() -> None:
    key = {"PK": {"S": "CATEGORY#1"}, "SK": {"S": "METADATA#1"}}
    with changes.recording("eu-west-1", request_id="req-1") as change:
        update = change.stamped(
            "UpdateItem", {"Key": key, "UpdateExpression": "SET #a0 = :v0 REMOVE #r0"}
        )
        put = change.stamped("PutItem", {"Item": {**key, "_rid": {"S": "req-0"}}})
    assert update["UpdateExpression"] == (
        "SET #hh_change = :hh_change, #hh_rid = :hh_rid, #a0 = :v0 REMOVE #r0"
    )
    assert update["ExpressionAttributeNames"]["#hh_rid"] == "_rid"
    assert update["ExpressionAttributeValues"][":hh_rid"] == {"S": "req-1"}
    assert changes.request_of(put["Item"]) == "req-1"
    # A mark of a release before request ids: the `_rid` beside it is some earlier write's.
    older = {**put["Item"], "changeId": {"S": "eu-west-1/01J.1"}}
    assert changes.request_of(older) is None
    with changes.recording("eu-west-1") as anonymous:
        put = anonymous.stamped("PutItem", {"Item": {**key, "_rid": {"S": "req-0"}}})
    assert "_rid" not in put["Item"]
    # Bookkeeping, not data: an item that differs only in it says the same thing.
    assert logical({**key, "_rid": {"S": "req-1"}}) == key
