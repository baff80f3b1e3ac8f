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

from config.prepared import hot_cursor
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
    return _checked_payload(
        type=type,
        has_member=member_id is not None,
        member_external_id=member_external_id,
        payload=payload,
    )


def _checked_payload(
    *, type: str, has_member: bool, member_external_id: str | None, payload: dict
) -> dict:
    if type not in PAYLOAD_KEYS:
        raise ValueError(f"unknown event type {type!r}")
    if has_member == (type in MEMBERLESS_TYPES):
        raise ValueError(f"{type}: member_id is {'forbidden' if has_member else 'required'}")
    keys = set(payload)
    if keys != PAYLOAD_KEYS[type]:
        missing, extra = PAYLOAD_KEYS[type] - keys, keys - PAYLOAD_KEYS[type]
        raise ValueError(f"{type}: payload keys missing {sorted(missing)}, unknown {sorted(extra)}")
    if not has_member:
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
    """Write one event in the caller's transaction and return it (with its sequence number).

    On PostgreSQL a member's event is one statement: the counter's upsert and the INSERT
    (`event_ctes_sql`)."""
    new = NewEvent(
        type=type,
        member_id=member_id,
        payload=payload,
        member_external_id=member_external_id,
        occurred_at=occurred_at,
    )
    if connection.vendor != "postgresql" or member_id is None:
        return events_record(events=[new])[0]
    _assert_in_transaction()
    event = _event_row(new)
    sql = (
        f"WITH {event_ctes_sql(source='(SELECT CAST(%s AS bigint) AS member_id) AS m')} "
        'SELECT "position", txid, sequence FROM ev'
    )
    with hot_cursor(connection) as cursor:
        cursor.execute(sql, [member_id, *event_cte_params(event)])
        event.position, event.txid, event.sequence = cursor.fetchone()
    event._state.adding, event._state.db = False, connection.alias
    return event


def event_ctes_sql(*, source: str, where: str = "true") -> str:
    """PostgreSQL: two CTEs, `ec` and `ev`, that write one event for each `member_id` the FROM
    item `source` yields where `where` holds: the member's counter upsert (its row lock held to
    the commit) and the event's INSERT, with the counter's number. `ev` returns `position, txid,
    sequence`. For a statement that writes its change and its event at once (the storefront's
    earn: `loyalty.services.ledger.order_earn_statement`). The parameters follow the caller's:
    `event_cte_params(event)`."""
    qn = connection.ops.quote_name
    counter = qn(MemberEventCounter._meta.db_table)
    columns = ", ".join(qn(c) for c in _CTE_COLUMNS)
    return (
        f"ec AS (INSERT INTO {counter} (member_id, last) SELECT member_id, 1 FROM {source} "
        f"WHERE {where} ON CONFLICT (member_id) DO UPDATE SET last = {counter}.last + 1 "
        f"RETURNING member_id, last), "
        f"ev AS (INSERT INTO {qn(Event._meta.db_table)} ({columns}) "
        f"SELECT CAST(%s AS uuid), %s, CAST(%s AS timestamptz), ec.member_id, ec.last, %s, "
        f'CAST(%s AS jsonb) FROM ec RETURNING "position", txid, sequence)'
    )


_CTE_COLUMNS = (
    "uuid", "type", "occurred_at", "member_id", "sequence", "schema_version", "payload"
)  # fmt: skip


def event_cte_params(event: Event) -> list:
    """`event_ctes_sql`'s parameters for an unsaved `Event` (`_event_row`)."""
    return [
        event.uuid,
        event.type,
        event.occurred_at,
        event.schema_version,
        json.dumps(event.payload, cls=DjangoJSONEncoder),
    ]


def event_new(
    *, type: str, payload: dict, member_external_id: str, occurred_at: dt.datetime | None = None
) -> Event:
    """An unsaved member event, checked (`event_payload`), for `event_ctes_sql` (which takes
    the member's id from the statement)."""
    return Event(
        type=type,
        occurred_at=occurred_at or timezone.now(),
        schema_version=SCHEMA_VERSION,
        payload=_checked_payload(
            type=type, has_member=True, member_external_id=member_external_id, payload=payload
        ),
    )


def _event_row(e: NewEvent, now: dt.datetime | None = None) -> Event:
    return Event(
        type=e.type,
        occurred_at=e.occurred_at or now or timezone.now(),
        member_id=e.member_id,
        schema_version=SCHEMA_VERSION,
        payload=event_payload(
            type=e.type,
            member_id=e.member_id,
            member_external_id=e.member_external_id,
            payload=e.payload,
        ),
    )


def events_record(*, events: Iterable[NewEvent]) -> list[Event]:
    """Write many events in the caller's transaction: one counter upsert for all their members,
    one INSERT. Each member's events get consecutive sequence numbers in the given order."""
    _assert_in_transaction()
    now = timezone.now()
    rows = [_event_row(e, now) for e in events]
    if not rows:
        return []
    counts = Counter(row.member_id for row in rows if row.member_id is not None)
    last = sequences_draw(counts=counts)
    given: dict[int, int] = defaultdict(int)
    for row in rows:
        if row.member_id is not None:
            row.sequence = last[row.member_id] - counts[row.member_id] + 1 + given[row.member_id]
            given[row.member_id] += 1
    Event.objects.bulk_create(rows)
    # The column's default filled `txid`: the same for every row (this transaction's).
    txid = _transaction_id()
    for row in rows:
        row.txid = txid
    return rows


def _transaction_id() -> int:
    if connection.vendor != "postgresql":
        return 0
    with connection.cursor() as cursor:
        cursor.execute("SELECT txid_current()")
        return cursor.fetchone()[0]


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
    "event_cte_params",
    "event_ctes_sql",
    "event_new",
    "event_payload",
    "event_record",
    "events_member_forget",
    "events_record",
    "sequences_draw",
]
