"""The loyalty app's domain events: each payload built in one place for every path that writes
the same change (the storefront's one-statement earn and the usual path must write the same
event: `tests/loyalty/test_api_orders_one_statement.py` compares them).

Written through `events.services`, in the change's transaction, after the change's own locks
(`docs/events.md`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from events.models import EventType
from events.services import (
    NewEvent,
    event_cte_params,
    event_ctes_sql,
    event_new,
    event_record,
    events_record,
)
from members.models import Member


def earned_payload(*, credits: Iterable, order_id: str | None) -> dict | None:
    """`points.earned`'s payload for the credits posted together (`NewCredit`s or postings with
    `kind`, `points`, `campaign_code`, `available_at`, `expires_at`); None if they earn nothing."""
    credits = [c for c in credits if c.points]
    if not credits:
        return None
    return {
        "points": sum(c.points for c in credits),
        "order_id": order_id,
        "credits": [
            {"kind": str(c.kind), "points": c.points, "campaign_code": c.campaign_code or None}
            for c in credits
        ],
        # An order's credits share their dates; elsewhere one credit is posted at a time.
        "available_at": min(c.available_at for c in credits),
        "expires_at": None
        if any(c.expires_at is None for c in credits)
        else min(c.expires_at for c in credits),
    }


def member_event_cte(
    *, type: str, member: Member, payload: dict, occurred_at: dt.datetime
) -> tuple[str, list]:
    """PostgreSQL: `member_event`'s writes as CTEs (`events.services.event_ctes_sql`) and their
    parameters, for a statement that writes the change too (`ledger.credits_post(also=)`):
    the same row, counter and payload check as `member_event`."""
    sql = event_ctes_sql(source="(SELECT CAST(%s AS bigint) AS member_id) AS evm")
    event = event_new(
        type=type, payload=payload, member_external_id=member.external_id, occurred_at=occurred_at
    )
    return sql, [member.pk, *event_cte_params(event)]


def external_id_of(member_id: int) -> str:
    return Member.objects.filter(pk=member_id).values_list("external_id", flat=True).get()


def member_event(
    *,
    type: str,
    member: Member | None = None,
    member_id: int | None = None,
    payload: dict,
    occurred_at: dt.datetime | None = None,
):
    """Write a member's event (`events.services.event_record`) from a `Member` or its id."""
    if member is not None:
        member_id, external_id = member.pk, member.external_id
    else:
        external_id = external_id_of(member_id)
    return event_record(
        type=type,
        member_id=member_id,
        member_external_id=external_id,
        payload=payload,
        occurred_at=occurred_at,
    )


def tier_changed(
    *, member_id: int, from_tier, to_tier, direction: str, at: dt.datetime, member=None
):
    """`tier.changed`: `direction` is `up`, `down`, `override` (staff set or ended one) or
    `lapse` (an override ran out); the tiers by code (None: no tier)."""
    return member_event(
        type=EventType.TIER_CHANGED,
        member=member,
        member_id=member_id,
        payload=tier_payload(
            from_code=from_tier.code if from_tier else None,
            to_code=to_tier.code if to_tier else None,
            direction=direction,
            at=at,
        ),
    )


def tier_payload(*, from_code: str | None, to_code: str | None, direction: str, at) -> dict:
    return {"from_tier": from_code, "to_tier": to_code, "direction": direction, "effective_at": at}


# Members per `events_record` call when the daily evaluation writes its events.
TIER_EVENTS_BATCH = 2000


def tier_events_write(*, rows: Iterable[tuple], at: dt.datetime) -> int:
    """The set-based evaluation's `tier.changed` events, from its rows `(member_id, external_id,
    direction, from_code, to_code)` sorted by member: one counter upsert and one INSERT per
    batch of members (`events_record`), each member's events in the given order."""
    written, batch, members = 0, [], set()
    for member_id, external_id, direction, from_code, to_code in rows:
        if len(members) == TIER_EVENTS_BATCH and member_id not in members:
            written += len(events_record(events=batch))
            batch, members = [], set()
        members.add(member_id)
        batch.append(
            NewEvent(
                type=EventType.TIER_CHANGED,
                member_id=member_id,
                member_external_id=external_id,
                payload=tier_payload(
                    from_code=from_code, to_code=to_code, direction=direction, at=at
                ),
            )
        )
    if batch:
        written += len(events_record(events=batch))
    return written


__all__ = [
    "EventType",
    "earned_payload",
    "external_id_of",
    "member_event",
    "tier_changed",
    "tier_events_write",
]
