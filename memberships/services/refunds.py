"""Refunding a membership's latest paid period, by the plan's rule; and recording perk usage.

The refund rules (`RefundRule`, worked examples in docs/memberships.md):
- `full_if_unused`: the whole payment, if asked within the plan's `refund_days` of the period's
  start and no perk of the plan was reported used in that period; else nothing.
- `prorated`: the payment × the whole days left in the period ÷ the period's days, rounded down
  to the cent (the day in progress counts as used; before the period starts, all of it).
- `none`: nothing.
Nothing to give back is `422 not_refundable`, with the reason. A supervisor may refund another
amount (at most the payment) with a reason, from the admin: a goodwill decision the rule does not
make. A refund ends the membership at once (`refunded`, final) and is a negative charge row
against the refunded period, at most one per period (a database constraint).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from http import HTTPStatus

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy

from config.errors import NotFound, ServiceError
from events.models import EventType
from loyalty.models import Perk
from members.actors import Actor
from memberships import states
from memberships.models import (
    ChargeKind,
    Membership,
    MembershipCharge,
    MembershipPeriod,
    MembershipStatus,
    PeriodKind,
    PerkUsage,
    RefundRule,
)
from memberships.services.common import (
    charge_add,
    membership_event,
    membership_lock,
    membership_save,
)

CENT = Decimal("0.01")
DAY = dt.timedelta(days=1)

_REASONS = {
    "no_refunds": gettext_lazy("This plan gives no refunds."),
    "perk_used": gettext_lazy("A perk of the plan was used in this period."),
    "too_late": gettext_lazy("Full refunds are given within %(days)s days of the period's start."),
    "period_over": gettext_lazy("The period is over: no day is left to refund."),
    "nothing_paid": gettext_lazy("Nothing was paid for this membership."),
    "already_refunded": gettext_lazy("This period was refunded already."),
}


@dataclass(frozen=True)
class RefundQuote:
    amount: Decimal  # > 0, or 0 with a `reason`
    reason: str = ""
    refund_days: int = 0

    def message(self) -> str:
        return str(_REASONS[self.reason]) % {"days": self.refund_days}


def refund_quote(
    *,
    rule: str,
    refund_days: int,
    paid: Decimal,
    starts_at: dt.datetime,
    ends_at: dt.datetime,
    perk_used: bool,
    now: dt.datetime,
) -> RefundQuote:
    """What the rule gives back for a period paid `paid` (pure: no query)."""
    if rule == RefundRule.NONE:
        return RefundQuote(Decimal("0.00"), "no_refunds")
    if rule == RefundRule.FULL_IF_UNUSED:
        if perk_used:
            return RefundQuote(Decimal("0.00"), "perk_used")
        if now >= starts_at + refund_days * DAY:
            return RefundQuote(Decimal("0.00"), "too_late", refund_days)
        return RefundQuote(paid)
    days = (ends_at - starts_at) // DAY
    left = max((ends_at - max(now, starts_at)) // DAY, 0)
    amount = (paid * left / days).quantize(CENT, rounding=ROUND_DOWN)
    return RefundQuote(amount) if amount > 0 else RefundQuote(Decimal("0.00"), "period_over")


def _refundable_period(membership: Membership) -> MembershipPeriod | None:
    return (
        membership.periods.filter(kind=PeriodKind.PAID)
        .select_related("payment")
        .order_by("-number")
        .first()
    )


def membership_refund_quote(*, membership: Membership, now: dt.datetime) -> RefundQuote:
    """The plan's rule applied to the membership's latest paid period now."""
    period = _refundable_period(membership)
    if period is None:
        return RefundQuote(Decimal("0.00"), "nothing_paid")
    if membership.charges.filter(period_number=period.number, kind=ChargeKind.REFUND).exists():
        return RefundQuote(Decimal("0.00"), "already_refunded")
    plan = membership.plan
    return refund_quote(
        rule=plan.refund_rule,
        refund_days=plan.refund_days,
        paid=period.payment.amount,
        starts_at=period.starts_at,
        ends_at=period.ends_at,
        perk_used=membership.perk_usages.filter(period_number=period.number).exists(),
        now=now,
    )


def membership_refund(
    *,
    membership: Membership,
    actor: Actor,
    reason: str = "",
    amount: Decimal | None = None,
    now: dt.datetime | None = None,
) -> MembershipCharge:
    """Refund the latest paid period (active or cancelled -> refunded) by the plan's rule, or
    `amount` (a supervisor's decision, at most the payment). `not_refundable` when the rule
    gives nothing back."""
    now = now or timezone.now()
    with transaction.atomic():
        membership = membership_lock(membership_id=membership.pk)
        states.transition_check(action=states.REFUND, status=membership.status)
        quote = membership_refund_quote(membership=membership, now=now)
        period = _refundable_period(membership)
        if amount is not None and quote.reason not in ("nothing_paid", "already_refunded"):
            quote = _override(amount=amount, paid=period.payment.amount)
        if quote.amount <= 0:
            raise ServiceError("not_refundable", quote.message(), extra={"reason": quote.reason})
        refund = charge_add(
            membership=membership,
            period_number=period.number,
            kind=ChargeKind.REFUND,
            amount=-quote.amount,
            currency=period.payment.currency,
            reason=reason,
            actor=actor,
            now=now,
        )
        membership.status = MembershipStatus.REFUNDED
        membership.ended_at = membership.ends_at = now
        membership_save(membership, now=now, fields=["status", "ended_at", "ends_at"])
        membership_event(
            type=EventType.MEMBERSHIP_REFUNDED,
            membership=membership,
            payload={
                "period_number": period.number,
                "amount": quote.amount,
                "currency": refund.currency,
            },
            now=now,
        )
        return refund


def _override(*, amount: Decimal, paid: Decimal) -> RefundQuote:
    if not CENT <= amount <= paid:
        raise ServiceError(
            "validation_error",
            gettext("A refund is between 0.01 and the payment (%(paid)s).") % {"paid": paid},
            status=HTTPStatus.BAD_REQUEST,
            field="amount",
        )
    return RefundQuote(amount.quantize(CENT))


def membership_perk_usage_record(
    *,
    membership: Membership,
    perk_code: str,
    order_id: str,
    actor: Actor,
    now: dt.datetime | None = None,
) -> tuple[PerkUsage, bool]:
    """Record that the storefront applied one of the plan's perks on an order (once per perk and
    order: a repeat returns the first record and False). The period it falls in is the latest one
    started by `now`; a full refund of that period is then refused."""
    now = now or timezone.now()
    with transaction.atomic():
        membership = membership_lock(membership_id=membership.pk)
        states.transition_check(action=states.PERK_USE, status=membership.status)
        if membership.status == MembershipStatus.CANCELLED and membership.ends_at <= now:
            # Cancelled and over: the daily step has not marked it expired yet.
            raise states.transition_refusal(action=states.PERK_USE, status=membership.status)
        perk = Perk.objects.filter(code=perk_code, plans=membership.plan).first()
        if perk is None:
            raise NotFound(
                "perk_not_found",
                gettext("The plan has no perk %(code)s.") % {"code": repr(perk_code)},
            )
        existing = PerkUsage.objects.filter(
            membership=membership, perk=perk, order_id=order_id
        ).first()
        if existing is not None:
            return existing, False
        started = membership.periods.filter(starts_at__lte=now).order_by("-number").first()
        usage = PerkUsage.objects.create(
            membership=membership,
            period_number=started.number if started else 1,
            perk=perk,
            order_id=order_id,
            used_at=now,
            **actor.as_fields(),
        )
        return usage, True
