"""Writes of member messages: planning (who gets what, exactly once), sending, opting out.

Invariants:
- A message is requested by inserting its log row (`INSERT ... ON CONFLICT DO NOTHING` on the
  natural key member, kind, subject key) and, in the same transaction, its `message.requested`
  event and the send job: all three commit together or not at all. A second daily run, a retry
  or a concurrent worker inserts nothing and so requests nothing.
- Who may get a message is decided in SQL per batch of members (`_eligible`): active members
  with an email that is not suppressed, not opted out of the kind; promotional kinds also need
  `marketing_consent` and no promotional message within `MESSAGING_PROMO_CAP_DAYS`. Erased and
  suspended members get nothing. The send job checks the same again under the row's lock.
- The send job sends a queued row at most once per success: the row is locked (SKIP LOCKED) and
  marked sent in the transaction that sent it; a crash between the provider's answer and the
  commit can send it again (at-least-once at the transport, never a second log row).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone

import jobs
from events.models import EventType
from events.services import NewEvent, events_record
from loyalty.selectors.program import program_settings_if_saved
from members.actors import Actor
from members.models import Member
from members.services import audit_record
from messaging.kinds import Kind, kind_get
from messaging.models import MessageLog, OptOut, Suppression

BATCH = 2000
SEND_BATCH = 200


def _eligible(*, kind: Kind, member_ids: Iterable[int], now: dt.datetime) -> QuerySet[Member]:
    """The members among `member_ids` who may get a message of `kind` now (module docstring)."""
    members = (
        Member.objects.filter(pk__in=list(member_ids), status=Member.Status.ACTIVE)
        .exclude(email__isnull=True)
        .exclude(email="")
        .exclude(Exists(OptOut.objects.filter(member=OuterRef("pk"), kind=kind.code)))
        .exclude(Exists(Suppression.objects.filter(address=OuterRef("email"))))
    )
    if kind.promotional:
        since = now - dt.timedelta(days=settings.MESSAGING_PROMO_CAP_DAYS)
        recent = MessageLog.objects.filter(
            member=OuterRef("pk"), promotional=True, requested_at__gte=since
        )
        members = members.filter(marketing_consent=True).exclude(Exists(recent))
    return members


def _request_batch(*, kind: Kind, rows: list[dict], now: dt.datetime) -> int:
    """Log, announce and queue the batch's messages that are due; returns how many are new."""
    program = program_settings_if_saved()
    default_locale = program.locale if program is not None else "en"
    with transaction.atomic():
        members = {
            m["pk"]: m
            for m in _eligible(
                kind=kind, member_ids={r["member_id"] for r in rows}, now=now
            ).values("pk", "external_id", "locale")
        }
        batch, capped = uuid.uuid4(), set()
        logs = []
        for row in rows:
            member = members.get(row["member_id"])
            if member is None or (kind.promotional and row["member_id"] in capped):
                continue
            capped.add(row["member_id"])
            logs.append(
                MessageLog(
                    member_id=row["member_id"],
                    kind=kind.code,
                    subject_key=str(row["subject_key"]),
                    locale=member["locale"] or default_locale,
                    promotional=kind.promotional,
                    params=row.get("params") or {},
                    requested_at=now,
                    batch=batch,
                )
            )
        MessageLog.objects.bulk_create(logs, ignore_conflicts=True)
        # Only the rows this batch inserted: another run's (or an earlier day's) were skipped.
        mine = list(
            MessageLog.objects.filter(batch=batch)
            .order_by("pk")
            .values_list("pk", "member_id", "subject_key", "locale", "params")
        )
        events_record(
            events=[
                NewEvent(
                    type=EventType.MESSAGE_REQUESTED,
                    member_id=member_id,
                    member_external_id=members[member_id]["external_id"],
                    payload={
                        "message_id": pk,
                        "kind": kind.code,
                        "subject_key": subject_key,
                        "locale": locale,
                        "params": params,
                    },
                    occurred_at=now,
                )
                for pk, member_id, subject_key, locale, params in mine
            ]
        )
        from messaging.tasks import message_send_batch  # tasks import this module

        for start in range(0, len(mine), SEND_BATCH):
            jobs.defer(
                message_send_batch, message_ids=[m[0] for m in mine[start : start + SEND_BATCH]]
            )
    return len(mine)


def _pages(rows: QuerySet):
    """Keyset pages of `rows` (dicts ordered by `member_id`): a member's rows never straddle
    two pages, and only one page is held in memory."""
    after = 0
    while True:
        page = list(rows.filter(member_id__gt=after)[:BATCH])
        if not page:
            return
        if len(page) == BATCH and page[0]["member_id"] != page[-1]["member_id"]:
            last = page[-1]["member_id"]
            page = [row for row in page if row["member_id"] != last]
        after = page[-1]["member_id"]
        yield page


def messages_plan(*, kind: Kind, rows: QuerySet, now: dt.datetime | None = None) -> int:
    """Request `kind`'s messages for a planner's `rows` (a queryset of dicts with `member_id`,
    in member order; the kind's `params_of(row)` gives `(subject_key, params)`), a page of
    `BATCH` rows per short transaction. Returns how many messages were new."""
    now = now or timezone.now()
    requested = 0
    for page in _pages(rows):
        batch = []
        for row in page:
            subject_key, params = kind.params_of(row)
            batch.append(
                {"member_id": row["member_id"], "subject_key": subject_key, "params": params}
            )
        requested += _request_batch(kind=kind, rows=batch, now=now)
    return requested


def message_request(
    *, kind: str, member_id: int, subject_key: str, params: dict | None = None
) -> int:
    """Request one message (an enrolment, a redemption) in the caller's transaction when there
    is one: 1 if new, 0 if the kind is off, the member may not get it, or it was requested."""
    from messaging.daily import kind_timing

    kind_obj = kind_get(kind)
    if not kind_timing(kind_obj)[0]:
        return 0
    return _request_batch(
        kind=kind_obj,
        rows=[{"member_id": member_id, "subject_key": subject_key, "params": params or {}}],
        now=timezone.now(),
    )


def opt_out_record(*, member_id: int, kind: str, actor: Actor) -> bool:
    """Stop `kind`'s messages to the member at once (idempotent: False when already stopped).
    Audited on the member."""
    kind_get(kind)  # an unknown kind is a bug of the caller
    with transaction.atomic():
        member = Member.objects.get(pk=member_id)
        opt_out, created = OptOut.objects.get_or_create(member_id=member_id, kind=kind)
        if created:
            audit_record(
                actor=actor,
                action="messages.opt_out",
                target=opt_out,
                member=member,
                changes={"kind": ["", kind]},
            )
    return created


def suppression_record(*, address: str, reason: str, provider_event_id: str = "") -> bool:
    """Send nothing more to `address` (a bounce or a complaint); idempotent."""
    address = (address or "").strip().lower()
    if not address:
        return False
    _, created = Suppression.objects.get_or_create(
        address=address, defaults={"reason": reason, "provider_event_id": provider_event_id}
    )
    return created


__all__ = [
    "message_request",
    "messages_plan",
    "opt_out_record",
    "suppression_record",
]
