"""Writing domain events: one (`event_record`), many (`events_record`), and erasure's scrub.

Primitives: each asserts it runs inside the caller's transaction, so the event commits or rolls
back with the change that caused it (the transactional outbox). The caller is the writer of the
change; it writes its event after its own row locks, so the member's counter row (locked by the
upsert that draws the next sequence number) is the last lock the transaction takes for that
member, and a member's writers queue on it in commit order: numbers are gap-free and unique.
Several members' counters are always drawn in member-id order (no deadlock between two bulk
writers).
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection
from django.utils import timezone

from events.models import Event, EventType, MemberEventCounter
from events.schemas import MEMBERLESS_TYPES, PAYLOAD_KEYS, SCHEMA_VERSION

EXTERNAL_ID_KEY = "member_external_id"


@dataclass
class NewEvent:
    """One event to write (`events_record`)."""

    type: str
    member_id: int | None
    payload: dict
    member_external_id: str | None = None
    occurred_at: dt.datetime | None = None


def _assert_in_transaction() -> None:
    assert connection.in_atomic_block, "events are written inside the change's transaction"


def event_payload(
    *, type: str, member_id: int | None, member_external_id: str | None, payload: dict
) -> dict:
    """The stored payload: checked against the type's schema, with the member's external id.

    Raises `ValueError` (a programming error, never the user's) for an unknown type, a member
    event without a member or a memberless one with one, and keys not exactly the schema's.
    """
    if type not in PAYLOAD_KEYS:
        raise ValueError(f"unknown event type {type!r}")
    if (member_id is None) != (type in MEMBERLESS_TYPES):
        raise ValueError(f"{type}: member_id is {'forbidden' if member_id else 'required'}")
    keys = set(payload)
    if keys != PAYLOAD_KEYS[type]:
        missing, extra = PAYLOAD_KEYS[type] - keys, keys - PAYLOAD_KEYS[type]
        raise ValueError(f"{type}: payload keys missing {sorted(missing)}, unknown {sorted(extra)}")
    if member_id is None:
        return dict(payload)
    if not member_external_id:
        raise ValueError(f"{type}: the member's external id is required")
    # A round trip through JSON: what is stored is exactly what a reader gets back.
    return json.loads(
        json.dumps({EXTERNAL_ID_KEY: member_external_id, **payload}, cls=DjangoJSONEncoder)
    )


def event_record(
    *,
    type: str,
    member_id: int | None,
    payload: dict,
    member_external_id: str | None = None,
    occurred_at: dt.datetime | None = None,
) -> Event:
    """Write one event in the caller's transaction and return it (with its sequence number)."""
    return events_record(
        events=[
            NewEvent(
                type=type,
                member_id=member_id,
                payload=payload,
                member_external_id=member_external_id,
                occurred_at=occurred_at,
            )
        ]
    )[0]


def events_record(*, events: Iterable[NewEvent]) -> list[Event]:
    """Write many events in the caller's transaction: one counter upsert for all their members,
    one INSERT. Each member's events get consecutive sequence numbers in the given order."""
    _assert_in_transaction()
    now = timezone.now()
    rows = [
        Event(
            type=e.type,
            occurred_at=e.occurred_at or now,
            member_id=e.member_id,
            schema_version=SCHEMA_VERSION,
            payload=event_payload(
                type=e.type,
                member_id=e.member_id,
                member_external_id=e.member_external_id,
                payload=e.payload,
            ),
        )
        for e in events
    ]
    if not rows:
        return []
    counts = Counter(row.member_id for row in rows if row.member_id is not None)
    last = sequences_draw(counts=counts)
    given: dict[int, int] = defaultdict(int)
    for row in rows:
        if row.member_id is not None:
            row.sequence = last[row.member_id] - counts[row.member_id] + 1 + given[row.member_id]
            given[row.member_id] += 1
    return Event.objects.bulk_create(rows)


def sequences_draw(*, counts: dict[int, int]) -> dict[int, int]:
    """Add `counts[member_id]` to each member's counter (creating it), in member-id order, and
    return each member's new last number: the member's events are numbered last-count+1..last."""
    _assert_in_transaction()
    if not counts:
        return {}
    qn = connection.ops.quote_name
    table = qn(MemberEventCounter._meta.db_table)
    ids = sorted(counts)
    sql = (
        f"INSERT INTO {table} ({qn('member_id')}, {qn('last')}) "
        f"VALUES {', '.join(['(%s, %s)'] * len(ids))} "
        f"ON CONFLICT ({qn('member_id')}) DO UPDATE "
        f"SET {qn('last')} = {table}.{qn('last')} + EXCLUDED.{qn('last')} "
        f"RETURNING {qn('member_id')}, {qn('last')}"
    )
    params = [value for member_id in ids for value in (member_id, counts[member_id])]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return dict(cursor.fetchall())


def events_member_forget(*, member_id: int) -> int:
    """Forget the member's external id in every stored event of theirs (erasure): the payload's
    `member_external_id` becomes null, nothing else changes (the one UPDATE the append-only
    trigger allows). Returns how many events changed. Idempotent."""
    _assert_in_transaction()
    changed = 0
    batch: list[Event] = []
    stored = (
        Event.objects.filter(member_id=member_id)
        .exclude(**{f"payload__{EXTERNAL_ID_KEY}": None})
        .only("position", "payload")
        .order_by("position")
    )
    for event in stored.iterator(chunk_size=500):
        event.payload = {**event.payload, EXTERNAL_ID_KEY: None}
        batch.append(event)
        if len(batch) == 500:
            changed += Event.objects.bulk_update(batch, ["payload"])
            batch = []
    if batch:
        changed += Event.objects.bulk_update(batch, ["payload"])
    return changed


__all__ = [
    "EventType",
    "NewEvent",
    "event_payload",
    "event_record",
    "events_member_forget",
    "events_record",
    "sequences_draw",
]
