"""Fan-out: outbox events become deliveries, one per (event, endpoint that wants its type).

Invariants: runs inside the caller's transaction; a delivery of an event to an endpoint is
written once (the unique constraint `webhook_delivery_once_per_event`, and a look-up first so a
second pass over the same events writes nothing); each new delivery gets its own job on the
`webhooks` queue, deferred in the same transaction.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import connection, transaction
from django.utils import timezone

from members.actors import Actor
from members.services import audit_record
from webhooks.models import Delivery, DispatchCursor, Endpoint
from webhooks.queue import deliveries_defer
from webhooks.services.endpoints import message_body


@dataclass(frozen=True)
class Message:
    """What a delivery needs of an event."""

    id: uuid.UUID
    type: str
    occurred_at: dt.datetime
    data: dict
    envelope: dict | None = None
    member_id: int | None = None


def deliveries_fan_out(
    *, messages: Iterable[Message], endpoints: list[Endpoint] | None = None
) -> list[Delivery]:
    """Write and defer the deliveries of `messages` to the active endpoints that want them and
    existed when the event occurred (or to `endpoints`). Returns the new deliveries."""
    assert connection.in_atomic_block, "fan out in the transaction that advances the cursor"
    if endpoints is None:
        endpoints = list(Endpoint.objects.filter(active=True))
    messages = list(messages)
    pairs = [
        (e, m)
        for m in messages
        for e in endpoints
        if e.wants(m.type) and m.occurred_at >= e.created_at
    ]
    if not pairs:
        return []
    existing = set(
        Delivery.objects.filter(
            kind=Delivery.Kind.EVENT,
            endpoint__in=[e.pk for e in endpoints],
            event_id__in=list({m.id for _, m in pairs}),
        ).values_list("endpoint_id", "event_id")
    )
    now = timezone.now()
    bodies: dict[uuid.UUID, str] = {}
    new = []
    for endpoint, message in pairs:
        if (endpoint.pk, message.id) in existing:
            continue
        if message.id not in bodies:
            bodies[message.id] = _body(message)
        new.append(_delivery(endpoint, message, Delivery.Kind.EVENT, bodies[message.id], now))
    created = Delivery.objects.bulk_create(new)
    _defer_by_endpoint(created)
    return created


def _body(message: Message) -> str:
    return message_body(
        event_type=message.type,
        occurred_at=message.occurred_at,
        data=message.data,
        envelope=message.envelope,
    )


def _delivery(
    endpoint: Endpoint, message: Message, kind: str, body: str, now: dt.datetime
) -> Delivery:
    return Delivery(
        endpoint=endpoint,
        kind=kind,
        event_id=message.id,
        event_type=message.type,
        occurred_at=message.occurred_at,
        member_id=message.member_id,
        body=body,
        next_attempt_at=now,
    )


def _defer_by_endpoint(deliveries: list[Delivery]) -> None:
    by_endpoint: dict[int, list[int]] = {}
    for delivery in deliveries:
        by_endpoint.setdefault(delivery.endpoint_id, []).append(delivery.pk)
    for endpoint_id, ids in by_endpoint.items():
        deliveries_defer(ids, endpoint_id=endpoint_id)


CURSOR = "events"


def events_dispatch(*, batch: int = 500) -> tuple[int, bool]:
    """One pass of the dispatcher: fan out the next `batch` committed events after the cursor
    and move the cursor past them, in one transaction. Returns (events read, more waiting).

    Another pass holding the cursor makes this one return at once (0, False). With no active
    endpoint the cursor jumps to the newest committed event: nobody was listening.
    """
    from events.selectors import events_after

    with transaction.atomic(durable=True):
        DispatchCursor.objects.get_or_create(name=CURSOR)
        cursor = DispatchCursor.objects.select_for_update(skip_locked=True).filter(name=CURSOR)
        cursor = cursor.first()
        if cursor is None:
            return 0, False
        endpoints = list(Endpoint.objects.filter(active=True))
        after = (cursor.txid, cursor.position)
        if not endpoints:
            newest = events_after(after=after, types=[]).reverse().first()
            if newest is not None:
                cursor.txid, cursor.position = newest.txid, newest.position
                cursor.save()
            return 0, False
        wanted = (
            []
            if any(not e.event_types for e in endpoints)
            else sorted({t for e in endpoints for t in e.event_types})
        )
        events = list(events_after(after=after, types=wanted)[: batch + 1])
        more = len(events) > batch
        events = events[:batch]
        if not events:
            return 0, False
        deliveries_fan_out(messages=[event_message(e) for e in events], endpoints=endpoints)
        cursor.txid, cursor.position = events[-1].txid, events[-1].position
        cursor.save()
    return len(events), more


def events_dispatch_for(*, seconds: float, pause: float) -> int:
    """Dispatch passes for about `seconds`, pausing `pause` seconds whenever caught up (the
    periodic dispatcher). Returns how many events were read."""
    end = time.monotonic() + seconds
    total = 0
    while True:
        read, more = events_dispatch()
        total += read
        if time.monotonic() >= end:
            return total
        if not more:
            time.sleep(pause)


def event_message(event) -> Message:
    """An outbox event as a message: the Standard Webhooks `type` and `timestamp`, and as `data`
    the event exactly as the pull feed gives it (`events.selectors.event_as_dict`)."""
    from events.selectors import event_as_dict

    return Message(
        id=event.uuid,
        type=event.type,
        occurred_at=event.occurred_at,
        data=event_as_dict(event),
        member_id=event.member_id,
    )


REPLAY_LIMIT = 10_000


def endpoint_replay_since(
    *, endpoint: Endpoint, since: dt.datetime, actor: Actor, limit: int = REPLAY_LIMIT
) -> int:
    """Send the endpoint again every committed event of its types that occurred at or after
    `since`, oldest first, as replay deliveries (same `webhook-id`s: the receiver
    de-duplicates). At most `limit` events; returns how many were queued."""
    from events.models import Event

    events = Event.objects.filter(occurred_at__gte=since).order_by("occurred_at", "position")
    if endpoint.event_types:
        events = events.filter(type__in=endpoint.event_types)
    now = timezone.now()
    with transaction.atomic():
        chosen = list(events[:limit])
        replays = Delivery.objects.bulk_create(
            _delivery(endpoint, message, Delivery.Kind.REPLAY, _body(message), now)
            for message in map(event_message, chosen)
        )
        _defer_by_endpoint(replays)
        audit_record(
            actor=actor,
            action="webhook.endpoint.replay",
            target=endpoint,
            changes={"replayed from": (None, since.isoformat()), "events": (None, len(replays))},
        )
    return len(replays)
