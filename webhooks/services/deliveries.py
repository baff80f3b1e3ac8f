"""Deliveries: attempts (one delivery, or a batch of first attempts), the retry schedule,
replays.

Invariants:
- No transaction is open while a message is on the wire: the delivery is read, the POST is made,
  then the outcome is recorded under the delivery's row lock in a short transaction (a batch
  records up to `RECORD_EVERY` outcomes in one), which also defers the next attempt's job. A
  worker killed between the POST and the record leaves the delivery pending and its job is run
  again: at least once, never lost.
- A 2xx answer delivers. A 410 switches the endpoint off (its pending deliveries are cancelled).
  Anything else (another status, a redirect, a timeout, a refused or closed connection, an
  address the SSRF guard refuses) is a failed attempt: the next one waits
  `WEBHOOKS_RETRY_SCHEDULE[n - 1]` seconds after the n-th; after the last the delivery fails. An
  endpoint that has failed every attempt for `WEBHOOKS_DISABLE_AFTER_DAYS` is switched off.
- A delivery already delivered, failed or cancelled is never sent again by its job; a replay is
  a new delivery.
"""

from __future__ import annotations

import datetime as dt
import time

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from members.actors import Actor
from webhooks import signing, transport
from webhooks.models import Delivery, DeliveryAttempt, Endpoint, EndpointSecret
from webhooks.queue import delivery_defer

SYSTEM = Actor.system("webhooks")
# A job may start a little before its delivery's `next_attempt_at` (clocks of two machines).
EARLY_SLACK = dt.timedelta(seconds=2)


def signing_secrets(endpoint_id: int, *, now: dt.datetime) -> list[str]:
    """The secrets that sign now: the current one first, then those still overlapping."""
    rows = EndpointSecret.objects.filter(endpoint_id=endpoint_id).exclude(expires_at__lte=now)
    return [row.secret for row in sorted(rows, key=lambda r: (r.expires_at is not None, -r.pk))]


def delivery_attempt(*, delivery_id: int) -> Delivery | None:
    """Send the delivery once if it is pending and due, and record what happened."""
    now = timezone.now()
    delivery = Delivery.objects.select_related("endpoint").filter(pk=delivery_id).first()
    if delivery is None or not delivery_sendable(delivery, now=now):
        return delivery
    answer = delivery_post(delivery, secrets=signing_secrets(delivery.endpoint_id, now=now))
    return delivery_record(delivery_id=delivery.pk, answer=answer, attempted_at=now)


def delivery_sendable(delivery: Delivery, *, now: dt.datetime) -> bool:
    """Whether the delivery is pending and due; a pending delivery to an endpoint switched off
    meanwhile is cancelled here (and is not sendable)."""
    if delivery.status != Delivery.Status.PENDING:
        return False
    if delivery.next_attempt_at and delivery.next_attempt_at > now + EARLY_SLACK:
        return False  # a later job is scheduled for it
    if not delivery.endpoint.active and delivery.kind != Delivery.Kind.TEST:
        with transaction.atomic(durable=True):
            Delivery.objects.filter(pk=delivery.pk, status=Delivery.Status.PENDING).update(
                status=Delivery.Status.CANCELLED, next_attempt_at=None
            )
        delivery.refresh_from_db()
        return False
    return True


def delivery_post(delivery: Delivery, *, secrets: list[str]) -> transport.Answer:
    """Sign and POST the delivery's message once (no transaction may be open: see above)."""
    body = delivery.body.encode()
    headers = signing.headers(
        secrets=secrets, msg_id=str(delivery.event_id), timestamp=int(time.time()), body=body
    )
    try:
        return transport.post(delivery.endpoint.url, body=body, headers=headers)
    except transport.UrlRefused as exc:
        return transport.Answer(None, b"", False, f"refused: {exc.message}", 0)


# A batch records its outcomes every this many sends, or this long after the first unrecorded
# one: a worker killed before a record sends those again (at least once), and the log shows them
# a moment late; recording each alone cost a transaction and its commit per delivery.
RECORD_EVERY = 20
RECORD_WITHIN_SECONDS = 0.5


def deliveries_attempt(*, delivery_ids: list[int]) -> None:
    """Send a batch of deliveries (first attempts to one endpoint) one after the other, each at
    most once and only if pending and due, recording the outcomes in groups (see above)."""
    now = timezone.now()
    deliveries = Delivery.objects.select_related("endpoint").filter(pk__in=delivery_ids)
    secrets: dict[int, list[str]] = {}
    unrecorded: list[tuple[int, transport.Answer, dt.datetime]] = []
    since = 0.0
    for delivery in deliveries.order_by("pk"):
        if not delivery_sendable(delivery, now=timezone.now()):
            continue
        if delivery.endpoint_id not in secrets:
            secrets[delivery.endpoint_id] = signing_secrets(delivery.endpoint_id, now=now)
        attempted_at = timezone.now()
        answer = delivery_post(delivery, secrets=secrets[delivery.endpoint_id])
        if not unrecorded:
            since = time.monotonic()
        unrecorded.append((delivery.pk, answer, attempted_at))
        if len(unrecorded) >= RECORD_EVERY or time.monotonic() - since >= RECORD_WITHIN_SECONDS:
            deliveries_record(outcomes=unrecorded)
            unrecorded = []
    if unrecorded:
        deliveries_record(outcomes=unrecorded)


def _outcome_text(answer: transport.Answer) -> str:
    return answer.body.decode("utf-8", "replace")[: settings.WEBHOOKS_LOG_RESPONSE_CHARS]


def delivery_record(
    *, delivery_id: int, answer: transport.Answer, attempted_at: dt.datetime
) -> Delivery:
    """Record one attempt's outcome and decide what comes next (see the module's invariants)."""
    return deliveries_record(outcomes=[(delivery_id, answer, attempted_at)])[0]


def deliveries_record(
    *, outcomes: list[tuple[int, transport.Answer, dt.datetime]]
) -> list[Delivery]:
    """Record attempts' outcomes (delivery id, answer, attempted at) in one transaction, under
    the deliveries' row locks taken in id order. A batch of successes costs a fixed number of
    statements; a failure decides its retry one by one, as it rarely happens."""
    now = timezone.now()
    with transaction.atomic(durable=True):
        locked = Delivery.objects.select_for_update().filter(pk__in=[o[0] for o in outcomes])
        by_id = {d.pk: d for d in locked.order_by("pk")}
        attempts, cleared = [], set()
        for delivery_id, answer, attempted_at in outcomes:
            delivery = by_id[delivery_id]
            attempts.append(_attempt_apply(delivery, answer, attempted_at))
            if delivery.status != Delivery.Status.PENDING:
                continue
            if _delivered(answer):
                delivery.status = Delivery.Status.DELIVERED
                delivery.delivered_at = now
                delivery.next_attempt_at = None
                # A success clears the endpoint's failing streak; once per run of successes.
                if delivery.endpoint_id not in cleared:
                    Endpoint.objects.filter(
                        pk=delivery.endpoint_id, failing_since__isnull=False
                    ).update(failing_since=None)
                    cleared.add(delivery.endpoint_id)
            else:
                cleared.discard(delivery.endpoint_id)
                _decide_failed(delivery, answer, now)
        DeliveryAttempt.objects.bulk_create(attempts)
        # One UPDATE per delivery: bulk_update's CASE per field cost ~15 ms of Python each.
        for delivery in by_id.values():
            delivery.save(update_fields=RECORDED_FIELDS)
    return [by_id[o[0]] for o in outcomes]


RECORDED_FIELDS = [
    "attempts",
    "last_attempt_at",
    "last_status_code",
    "last_error",
    "last_latency_ms",
    "last_response",
    "status",
    "delivered_at",
    "next_attempt_at",
]


def _delivered(answer: transport.Answer) -> bool:
    return answer.status is not None and 200 <= answer.status < 300


def _attempt_apply(
    delivery: Delivery, answer: transport.Answer, attempted_at: dt.datetime
) -> DeliveryAttempt:
    number = delivery.attempts + 1
    response = _outcome_text(answer)
    delivery.attempts = number
    delivery.last_attempt_at = attempted_at
    delivery.last_status_code = answer.status
    delivery.last_error = answer.error[:500]
    delivery.last_latency_ms = answer.latency_ms
    delivery.last_response = response
    return DeliveryAttempt(
        delivery=delivery,
        number=number,
        attempted_at=attempted_at,
        status_code=answer.status,
        error=answer.error[:500],
        latency_ms=answer.latency_ms,
        response=response,
    )


def _decide_failed(delivery: Delivery, answer: transport.Answer, now: dt.datetime) -> None:
    from webhooks.services.endpoints import endpoint_disable

    endpoint_id = delivery.endpoint_id
    if delivery.kind == Delivery.Kind.TEST:
        # A test tells staff whether the endpoint works now; it is not retried.
        delivery.status = Delivery.Status.FAILED
        delivery.next_attempt_at = None
        return
    if answer.status == 410:
        delivery.status = Delivery.Status.FAILED
        delivery.next_attempt_at = None
        endpoint_disable(endpoint_id=endpoint_id, reason=Endpoint.DisabledReason.GONE, actor=SYSTEM)
        return
    Endpoint.objects.filter(pk=endpoint_id, failing_since__isnull=True).update(failing_since=now)
    failing_since = Endpoint.objects.values_list("failing_since", flat=True).get(pk=endpoint_id)
    schedule = settings.WEBHOOKS_RETRY_SCHEDULE
    if failing_since <= now - dt.timedelta(days=settings.WEBHOOKS_DISABLE_AFTER_DAYS):
        delivery.status = Delivery.Status.FAILED
        delivery.next_attempt_at = None
        endpoint_disable(
            endpoint_id=endpoint_id, reason=Endpoint.DisabledReason.FAILING, actor=SYSTEM
        )
    elif delivery.attempts > len(schedule):
        delivery.status = Delivery.Status.FAILED
        delivery.next_attempt_at = None
    else:
        delivery.next_attempt_at = now + dt.timedelta(seconds=schedule[delivery.attempts - 1])
        delivery_defer(delivery.pk, at=delivery.next_attempt_at)


def delivery_replay(*, delivery: Delivery, actor: Actor) -> Delivery:
    """Send a delivery's message again, as a new delivery with the same event id and body (the
    receiver de-duplicates on `webhook-id` if it already has it)."""
    now = timezone.now()
    with transaction.atomic():
        replay = Delivery.objects.create(
            endpoint_id=delivery.endpoint_id,
            kind=Delivery.Kind.REPLAY,
            event_id=delivery.event_id,
            event_type=delivery.event_type,
            occurred_at=delivery.occurred_at,
            member_id=delivery.member_id,
            body=delivery.body,
            next_attempt_at=now,
        )
        delivery_defer(replay.pk, endpoint_id=replay.endpoint_id)
    return replay


def deliveries_retry_due(*, now: dt.datetime | None = None, limit: int = 500) -> int:
    """Defer a job for each pending delivery that is due (a safety net for jobs lost or, on
    SQLite, retries no worker will run at their time). Returns how many."""
    now = now or timezone.now()
    with transaction.atomic(durable=True):
        due = list(
            Delivery.objects.filter(status=Delivery.Status.PENDING, next_attempt_at__lte=now)
            .order_by("next_attempt_at")
            .values_list("pk", flat=True)[:limit]
        )
        for delivery_id in due:
            delivery_defer(delivery_id, unique=True)
    return len(due)
