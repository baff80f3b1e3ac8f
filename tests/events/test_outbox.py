"""The outbox's own invariants: written only inside a transaction, gone with a rollback, numbered
per member without gaps, payloads exactly their schema's, and append-only in the database."""

from __future__ import annotations

import uuid

import pytest
from django.db import DatabaseError, IntegrityError, transaction

from events.models import Event, EventType, MemberEventCounter
from events.services import NewEvent, event_record, events_member_forget, events_record

pytestmark = pytest.mark.django_db


def _erased(member_id: int, external_id: str = "C-1") -> Event:
    return event_record(
        type=EventType.MEMBER_ERASED,
        member_id=member_id,
        member_external_id=external_id,
        payload={},
    )


def _import_completed() -> dict:
    return {
        "import_id": 7,
        "format": "orders",
        "orders": 3,
        "members_created": 2,
        "points": 120,
        "rows_rejected": 0,
    }


@pytest.mark.django_db(transaction=True)
def test_an_event_needs_the_callers_transaction():
    with pytest.raises(AssertionError, match="inside the change's transaction"):
        _erased(1)

    assert Event.objects.count() == 0


def test_an_event_is_stored_as_given_with_the_external_id_and_the_next_sequence():
    with transaction.atomic():
        first = _erased(41, "C-41")
        second = event_record(
            type=EventType.MEMBER_UPDATED,
            member_id=41,
            member_external_id="C-41",
            payload={"changed": ["email"]},
        )

    stored = Event.objects.get(uuid=second.uuid)
    assert (first.sequence, second.sequence) == (1, 2)
    assert isinstance(stored.uuid, uuid.UUID)
    assert stored.type == "member.updated"
    assert stored.member_id == 41
    assert stored.schema_version == 1
    assert stored.payload == {"member_external_id": "C-41", "changed": ["email"]}
    assert MemberEventCounter.objects.get(member_id=41).last == 2


def test_a_rolled_back_change_leaves_no_event_and_no_gap():
    def fail() -> None:
        with transaction.atomic():
            _erased(5)
            raise RuntimeError("the change failed")

    with pytest.raises(RuntimeError):
        fail()
    with transaction.atomic():
        kept = _erased(5)

    assert list(Event.objects.values_list("member_id", "sequence")) == [(5, 1)]
    assert kept.sequence == 1


def test_many_events_are_numbered_per_member_in_the_given_order():
    with transaction.atomic():
        _erased(2)
        written = events_record(
            events=[
                NewEvent(
                    type=EventType.MEMBER_UPDATED,
                    member_id=member_id,
                    member_external_id=f"C-{member_id}",
                    payload={"changed": [name]},
                )
                for member_id, name in [(3, "a"), (2, "b"), (3, "c"), (2, "d")]
            ]
            + [
                NewEvent(
                    type=EventType.IMPORT_COMPLETED, member_id=None, payload=_import_completed()
                )
            ]
        )

    assert [(e.member_id, e.sequence, e.payload.get("changed")) for e in written] == [
        (3, 1, ["a"]),
        (2, 2, ["b"]),
        (3, 2, ["c"]),
        (2, 3, ["d"]),
        (None, None, None),
    ]
    assert written[-1].payload == _import_completed()
    assert Event.objects.count() == 6
    stored = dict(Event.objects.values_list("position", "txid"))
    assert [e.txid for e in written] == [stored[e.position] for e in written]  # as stored


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"type": "points.stolen", "member_id": 1, "payload": {}}, "unknown event type"),
        ({"type": EventType.MEMBER_ERASED, "member_id": None, "payload": {}}, "required"),
        (
            {"type": EventType.IMPORT_COMPLETED, "member_id": 1, "payload": _import_completed()},
            "forbidden",
        ),
        (
            {"type": EventType.MEMBER_ERASED, "member_id": 1, "payload": {"email": "a@b.c"}},
            r"unknown \['email'\]",
        ),
        (
            {"type": EventType.MEMBER_UPDATED, "member_id": 1, "payload": {}},
            r"missing \['changed'\]",
        ),
        ({"type": EventType.MEMBER_ERASED, "member_id": 1, "payload": {}}, "external id"),
    ],
)
def test_a_payload_is_exactly_its_types_schema(kwargs, message):
    with pytest.raises(ValueError, match=message), transaction.atomic():
        event_record(**kwargs)

    assert Event.objects.count() == 0


def test_the_sequence_is_unique_per_member_in_the_database():
    with transaction.atomic():
        event = _erased(9)

    with pytest.raises(IntegrityError), transaction.atomic():
        Event.objects.create(
            type=EventType.MEMBER_ERASED,
            occurred_at=event.occurred_at,
            member_id=9,
            sequence=1,
            payload={"member_external_id": "C-9"},
        )


def test_forgetting_a_member_nulls_their_external_id_and_nothing_else():
    with transaction.atomic():
        _erased(1, "C-1")
        _erased(1, "C-1")
        other = _erased(2, "C-2")

    with transaction.atomic():
        assert events_member_forget(member_id=1) == 2
        assert events_member_forget(member_id=1) == 0

    assert sorted(Event.objects.values_list("member_id", "sequence", "payload")) == [
        (1, 1, {"member_external_id": None}),
        (1, 2, {"member_external_id": None}),
        (2, 1, {"member_external_id": "C-2"}),
    ]
    assert Event.objects.get(pk=other.pk).payload == {"member_external_id": "C-2"}


@pytest.mark.postgres
@pytest.mark.parametrize(
    "change",
    [
        {"type": EventType.MEMBER_UPDATED},
        {"sequence": 5},
        {"member_id": 3},
        {"payload": {"member_external_id": "C-other"}},
        {"payload": {"member_external_id": None, "extra": 1}},
    ],
)
def test_postgres_refuses_any_other_update(change):
    with transaction.atomic():
        event = _erased(1, "C-1")

    with pytest.raises(DatabaseError, match="Cannot update"), transaction.atomic():
        Event.objects.filter(pk=event.pk).update(**change)

    assert Event.objects.get(pk=event.pk).payload == {"member_external_id": "C-1"}


@pytest.mark.postgres
def test_postgres_refuses_a_delete():
    with transaction.atomic():
        event = _erased(1, "C-1")

    with pytest.raises(DatabaseError, match="Cannot delete"), transaction.atomic():
        Event.objects.filter(pk=event.pk).delete()

    assert Event.objects.filter(pk=event.pk).exists()
