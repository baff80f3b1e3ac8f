"""Starting, renewing and cancelling a membership (`memberships.states` says what may happen).

Each is one transaction (`transaction.atomic()`: a savepoint inside the API's idempotent
transaction, so a refusal leaves nothing behind), under the locks of `memberships.services.common`
(the member, then the membership), and writes its history rows and its event in it.

Choices (docs/memberships.md):
- A start is a free trial (`trial=True`: the plan's trial days, no payment, once per member and
  plan) or a paid period from now (the shop's payment reference; the plan's price is recorded).
- A renewal is a paid period that starts where the current one ends (a trial's end, or the end
  of the period a past-due member is in grace after), so the paid time has no gaps or overlaps.
- Cancelling at the period's end keeps the perks until then; cancelling now ends them at once.
  Either way the daily step then moves the membership to `expired`. Money goes back only through
  `membership_refund`.
"""

from __future__ import annotations

import datetime as dt
from http import HTTPStatus

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext

from config.errors import Conflict, NotFound, ServiceError
from events.models import EventType
from members.actors import Actor
from members.models import Member
from memberships import states
from memberships.models import (
    OPEN_STATUSES,
    Membership,
    MembershipPeriod,
    MembershipStatus,
    PeriodKind,
    Plan,
)
from memberships.services.common import (
    last_period,
    membership_event,
    membership_lock,
    membership_save,
    months_add,
    paid_period_add,
    period_add,
)


def _plan_for_sale(code: str) -> Plan:
    plan = Plan.objects.filter(code=code).first()
    if plan is None:
        raise NotFound("plan_not_found", gettext("No plan %(code)s.") % {"code": repr(code)})
    if not plan.active:
        raise ServiceError(
            "plan_inactive",
            gettext("The plan %(code)s is not sold any more.") % {"code": plan.code},
            field="plan",
        )
    return plan


def _already_member(existing: Membership) -> Conflict:
    return Conflict(
        "already_member",
        gettext("The member already has a %(state)s membership of this plan.")
        % {"state": existing.status},
        extra={"membership_id": existing.pk, "state": existing.status},
    )


def membership_start(
    *,
    member: Member,
    plan_code: str,
    actor: Actor,
    trial: bool = False,
    payment_reference: str = "",
    now: dt.datetime | None = None,
) -> Membership:
    """Start a trial or a paid period of `plan_code` for the member (`plan_not_found`,
    `plan_inactive`, `already_member`, `trial_unavailable`, `payment_reference_used`)."""
    now = now or timezone.now()
    plan = _plan_for_sale(plan_code)
    if trial and payment_reference:
        raise ServiceError(
            "validation_error",
            gettext("A free trial takes no payment: send no payment reference."),
            status=HTTPStatus.BAD_REQUEST,
            field="payment_reference",
        )
    with transaction.atomic():
        Member.objects.select_for_update().filter(pk=member.pk).values_list("pk").first()
        mine = Membership.objects.filter(member=member, plan=plan)
        existing = mine.filter(status__in=OPEN_STATUSES).first()
        if existing is not None:
            raise _already_member(existing)
        if trial and (
            plan.trial_days == 0
            or MembershipPeriod.objects.filter(membership__in=mine, kind=PeriodKind.TRIAL).exists()
        ):
            raise ServiceError(
                "trial_unavailable",
                gettext("This plan offers this member no free trial."),
                field="trial",
            )
        ends_at = (
            now + dt.timedelta(days=plan.trial_days)
            if trial
            else months_add(now, plan.period_months)
        )
        try:
            with transaction.atomic():
                membership = Membership.objects.create(
                    member=member,
                    plan=plan,
                    status=MembershipStatus.TRIALING if trial else MembershipStatus.ACTIVE,
                    started_at=now,
                    current_period_start=now,
                    current_period_end=ends_at,
                    updated_at=now,
                    **actor.as_fields(),
                )
        except IntegrityError:  # a twin start committed first (the member lock makes it rare)
            raise _already_member(mine.filter(status__in=OPEN_STATUSES).first()) from None
        if trial:
            period = period_add(
                membership=membership,
                number=1,
                kind=PeriodKind.TRIAL,
                starts_at=now,
                ends_at=ends_at,
                payment=None,
                now=now,
            )
        else:
            period = paid_period_add(
                membership=membership,
                number=1,
                starts_at=now,
                payment_reference=payment_reference,
                actor=actor,
                now=now,
            )
        membership_event(
            type=EventType.MEMBERSHIP_STARTED,
            membership=membership,
            payload={
                "status": membership.status,
                "period_end": period.ends_at,
                "amount": None if period.payment is None else period.payment.amount,
                "currency": plan.currency,
            },
            now=now,
        )
        return membership


def membership_renew(
    *,
    membership: Membership,
    payment_reference: str,
    actor: Actor,
    now: dt.datetime | None = None,
) -> Membership:
    """Pay the next period (trialing, active or past_due -> active), from the current end."""
    now = now or timezone.now()
    with transaction.atomic():
        membership = membership_lock(membership_id=membership.pk)
        states.transition_check(action=states.RENEW, status=membership.status)
        previous = last_period(membership)
        period = paid_period_add(
            membership=membership,
            number=previous.number + 1,
            starts_at=previous.ends_at,
            payment_reference=payment_reference,
            actor=actor,
            now=now,
        )
        membership.status = MembershipStatus.ACTIVE
        membership.current_period_start, membership.current_period_end = (
            period.starts_at,
            period.ends_at,
        )
        membership.grace_until = None
        membership_save(
            membership,
            now=now,
            fields=["status", "current_period_start", "current_period_end", "grace_until"],
        )
        membership_event(
            type=EventType.MEMBERSHIP_RENEWED,
            membership=membership,
            payload={
                "period_number": period.number,
                "period_start": period.starts_at,
                "period_end": period.ends_at,
                "amount": period.payment.amount,
                "currency": period.payment.currency,
            },
            now=now,
        )
        return membership


def membership_cancel(
    *,
    membership: Membership,
    at_period_end: bool,
    actor: Actor,
    now: dt.datetime | None = None,
) -> Membership:
    """Cancel (trialing, active or past_due -> cancelled): the perks end at the current period's
    end (`at_period_end`; for a past-due membership, whose period has ended, now) or now."""
    now = now or timezone.now()
    with transaction.atomic():
        membership = membership_lock(membership_id=membership.pk)
        states.transition_check(action=states.CANCEL, status=membership.status)
        running = membership.status != MembershipStatus.PAST_DUE
        ends_at = max(membership.current_period_end, now) if at_period_end and running else now
        membership.status = MembershipStatus.CANCELLED
        membership.cancelled_at, membership.ends_at = now, ends_at
        membership_save(membership, now=now, fields=["status", "cancelled_at", "ends_at"])
        membership_event(
            type=EventType.MEMBERSHIP_CANCELLED,
            membership=membership,
            payload={"at_period_end": at_period_end, "ends_at": ends_at},
            now=now,
        )
        return membership
