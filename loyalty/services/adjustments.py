"""Staff adjustments of a member's points, with the customer-service limits and four-eyes approval.

`adjustment_request` is what the admin's "Adjust points" form calls:
- a user with `loyalty.adjust_points_unlimited` (Supervisor) posts at once;
- a user with `loyalty.adjust_points` (Customer service) posts at once when |points| is within the
  per-adjustment limit and their adjustments today (absolute sum, the program's time zone, the
  adjustments they posted themselves) plus |points| stay within the daily limit
  (`ProgramSettings.service_adjustment_limit` / `service_daily_limit`);
- otherwise the adjustment is not refused: it is kept as a pending `AdjustmentRequest` until a
  Supervisor other than the requester approves it (`adjustment_request_approve`: the approver posts
  it, the posting's reason names the request and its requester) or rejects it with a note
  (`adjustment_request_reject`).

Race-freedom of the daily limit: the check-then-post runs under the agent's own lock (their
`auth_user` row, `SELECT ... FOR UPDATE`), so two adjustments by one agent at once (two browser
tabs, two sessions) are serialised and the second sees the first's posting: together they can
never pass the daily limit. Lock order: the member's account row first (as every ledger change),
then the agent's row; nothing else locks a user row, so no two transactions can wait on each other
in opposite orders. Deciding a request locks the account, then the request row.

Every request and decision is also written to the audit log (`members.AuditEntry`) with the member,
so the member's page shows who asked for what and who decided.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from http import HTTPStatus

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Sum
from django.db.models.functions import Abs
from django.utils import timezone
from django.utils.translation import gettext

from config.errors import Conflict, Gone, ServiceError
from loyalty.models import AdjustmentRequest, Posting
from loyalty.models.ledger import PostingKind
from loyalty.selectors.program import program_settings
from loyalty.services.ledger import account_lock, member_settle_due, spendable_points
from loyalty.services.outbox import EventType, member_event
from loyalty.services.points import points_adjust_post
from members.actors import Actor
from members.models import Member
from members.services import audit_record

PERM_UNLIMITED = "loyalty.adjust_points_unlimited"
PERM_LIMITED = "loyalty.adjust_points"
PERM_APPROVE = "loyalty.approve_adjustment"

REASON_MAX = 500


@dataclass(frozen=True)
class AdjustmentOutcome:
    """What became of an adjustment: posted at once, or held as a request (and why)."""

    posting: Posting | None = None
    request: AdjustmentRequest | None = None

    @property
    def posted(self) -> bool:
        return self.posting is not None

    @property
    def held_because(self) -> str:
        return self.request.held_because if self.request is not None else ""


def _permission_denied(message: str) -> ServiceError:
    return ServiceError("permission_denied", message, status=HTTPStatus.FORBIDDEN)


def _staff_user(actor: Actor, *, lock: bool = False):
    """The actor's user, fresh from the database (locked if asked): only staff adjust."""
    if actor.kind != "staff" or actor.user_id is None:
        raise _permission_denied("Only staff users adjust points.")
    users = get_user_model().objects
    if lock:
        users = users.select_for_update()
    user = users.filter(pk=actor.user_id, is_active=True).first()
    if user is None:
        raise _permission_denied("This user account is not active.")
    return user


def _clean_reason(reason: str) -> str:
    reason = " ".join((reason or "").split())
    if not reason:
        raise ServiceError(
            "validation_error", gettext("A reason is required."), status=400, field="reason"
        )
    return reason[:REASON_MAX]


def _clean_points(points: int) -> int:
    if isinstance(points, bool) or not isinstance(points, int) or points == 0:
        raise ServiceError(
            "validation_error",
            gettext("Points must be a whole number other than zero."),
            status=400,
            field="points",
        )
    return points


def program_day_bounds(now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """[start, end) of the calendar day containing `now` in the program's time zone."""
    tz = timezone.get_current_timezone()
    day = timezone.localtime(now, tz).date()
    start = dt.datetime.combine(day, dt.time.min, tzinfo=tz)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min, tzinfo=tz)
    return start, end


def adjusted_today(*, user_id: int, now: dt.datetime | None = None) -> int:
    """Σ |points| of the adjustments `user_id` posted today (program time zone)."""
    start, end = program_day_bounds(now or timezone.now())
    total = Posting.objects.filter(
        kind=PostingKind.ADJUST,
        actor_user_id=user_id,
        created_at__gte=start,
        created_at__lt=end,
    ).aggregate(total=Sum(Abs("points")))["total"]
    return total or 0


def _limit_exceeded(*, user_id: int, points: int, now: dt.datetime) -> str:
    """Why this agent may not post `points` now ("" when within both limits)."""
    settings = program_settings()
    size = abs(points)
    if size > settings.service_adjustment_limit:
        return (
            f"over the per-adjustment limit of {settings.service_adjustment_limit} points "
            f"({size} asked)"
        )
    used = adjusted_today(user_id=user_id, now=now)
    if used + size > settings.service_daily_limit:
        return (
            f"over the daily limit of {settings.service_daily_limit} points "
            f"({used} already adjusted today, {size} asked)"
        )
    return ""


def _replay(idempotency_key: str) -> AdjustmentOutcome | None:
    posting = Posting.objects.filter(idempotency_key=idempotency_key).first()
    if posting is not None:
        return AdjustmentOutcome(posting=posting)
    request = AdjustmentRequest.objects.filter(idempotency_key=idempotency_key).first()
    if request is not None:
        return AdjustmentOutcome(request=request)
    return None


def adjustment_request(
    *,
    member: Member,
    points: int,
    reason: str,
    actor: Actor,
    idempotency_key: str | None = None,
    now: dt.datetime | None = None,
) -> AdjustmentOutcome:
    """Adjust a member's points as `actor` may: post at once, or hold as a request (see module).

    `idempotency_key` (the admin form's one-time token) makes a double submit harmless: the same
    key returns what the first submit made. Errors: `permission_denied` (403) for a user with
    neither adjust permission, `member_erased` (410), `validation_error` (400),
    `insufficient_points` (422) for a debit the member's spendable points do not cover (checked
    for a held request too, so a doomed request is not made).
    """
    points = _clean_points(points)
    reason = _clean_reason(reason)
    if member.is_erased:
        raise Gone("member_erased", gettext("This member's data has been erased."))
    key = idempotency_key or f"adjust:{uuid.uuid4().hex}"
    now = now or timezone.now()
    with transaction.atomic(durable=True):
        replay = _replay(key)
        if replay is not None:
            return replay
        account = account_lock(member_id=member.pk)
        agent = _staff_user(actor, lock=True)
        if agent.has_perm(PERM_UNLIMITED):
            held_because = ""
        elif agent.has_perm(PERM_LIMITED):
            held_because = _limit_exceeded(user_id=agent.pk, points=points, now=now)
        else:
            raise _permission_denied("You may not adjust points.")
        if not held_because:
            posting = points_adjust_post(
                member=member,
                points=points,
                reason=reason,
                actor=actor,
                idempotency_key=key,
                now=now,
            )
            return AdjustmentOutcome(posting=posting)
        if points < 0:
            member_settle_due(account=account, actor=actor, now=now)
            spendable = spendable_points(member_id=member.pk, now=now)
            if spendable < -points:
                raise ServiceError(
                    "insufficient_points",
                    gettext("Not enough points: %(points)s to take, %(spendable)s available.")
                    % {"points": -points, "spendable": spendable},
                    extra={"available": spendable, "required": -points},
                )
        request = AdjustmentRequest.objects.create(
            member=member,
            points=points,
            reason=reason,
            held_because=held_because,
            requested_by_id=agent.pk,
            requested_by_label=actor.label,
            requested_at=now,
            idempotency_key=key,
        )
        audit_record(
            actor=actor,
            action="adjustment.request",
            target=request,
            member=member,
            changes={"points": (None, points)},
            reason=f"{reason} (held: {held_because})",
        )
    return AdjustmentOutcome(request=request)


def _decide_locked(request: AdjustmentRequest, actor: Actor) -> AdjustmentRequest:
    """Lock the member's account, then the request; check it can be decided by `actor`."""
    decider = _staff_user(actor)
    if not decider.has_perm(PERM_APPROVE):
        raise _permission_denied("Only a Supervisor decides adjustment requests.")
    account_lock(member_id=request.member_id)
    current = AdjustmentRequest.objects.select_for_update().get(pk=request.pk)
    if not current.is_pending:
        raise Conflict(
            "request_decided",
            (
                gettext("Adjustment request #%(number)s was already approved.")
                if current.status == AdjustmentRequest.Status.APPROVED
                else gettext("Adjustment request #%(number)s was already rejected.")
            )
            % {"number": current.pk},
        )
    if current.requested_by_id == decider.pk:
        raise _permission_denied(
            "Four eyes: someone other than the requester must decide this request."
        )
    return current


def adjustment_request_approve(
    *,
    request: AdjustmentRequest,
    actor: Actor,
    note: str = "",
    now: dt.datetime | None = None,
) -> AdjustmentRequest:
    """Approve a pending request: post it as the approver, keep both names. Once.

    The posting's actor is the approver; its reason is the requester's, followed by the request
    number and the requester's name. Errors: `permission_denied` (not a Supervisor, or the
    requester themselves), `request_decided` (409), `insufficient_points` (a debit the balance no
    longer covers; the request stays pending).
    """
    now = now or timezone.now()
    note = " ".join((note or "").split())[:REASON_MAX]
    with transaction.atomic(durable=True):
        current = _decide_locked(request, actor)
        suffix = f" [request #{current.pk} by {current.requested_by_label}]"
        posting = points_adjust_post(
            member=current.member,
            points=current.points,
            reason=current.reason[: REASON_MAX - len(suffix)] + suffix,
            actor=actor,
            idempotency_key=f"adjustment-request:{current.pk}",
            now=now,
            adjustment_id=current.pk,
        )
        current.status = AdjustmentRequest.Status.APPROVED
        current.posting = posting
        current.decided_by_id = actor.user_id
        current.decided_by_label = actor.label
        current.decided_at = now
        current.decision_note = note
        current.save(
            update_fields=[
                "status",
                "posting",
                "decided_by",
                "decided_by_label",
                "decided_at",
                "decision_note",
            ]
        )
        audit_record(
            actor=actor,
            action="adjustment.approve",
            target=current,
            member=current.member,
            changes={"status": ("pending", "approved")},
            reason=note,
        )
        member_event(
            type=EventType.ADJUSTMENT_APPROVED,
            member=current.member,
            payload={"adjustment_id": current.pk, "points": current.points},
            occurred_at=now,
        )
    return current


def adjustment_request_reject(
    *,
    request: AdjustmentRequest,
    actor: Actor,
    note: str,
    now: dt.datetime | None = None,
) -> AdjustmentRequest:
    """Reject a pending request with a note (required). Nothing is posted. Once."""
    note = " ".join((note or "").split())[:REASON_MAX]
    if not note:
        raise ServiceError(
            "validation_error",
            gettext("Say why the request is rejected."),
            status=400,
            field="note",
        )
    now = now or timezone.now()
    with transaction.atomic(durable=True):
        current = _decide_locked(request, actor)
        current.status = AdjustmentRequest.Status.REJECTED
        current.decided_by_id = actor.user_id
        current.decided_by_label = actor.label
        current.decided_at = now
        current.decision_note = note
        current.save(
            update_fields=[
                "status",
                "decided_by",
                "decided_by_label",
                "decided_at",
                "decision_note",
            ]
        )
        audit_record(
            actor=actor,
            action="adjustment.reject",
            target=current,
            member=current.member,
            changes={"status": ("pending", "rejected")},
            reason=note,
        )
    return current
