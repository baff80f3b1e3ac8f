"""Shared pieces of the membership services: the lock, the calendar, the history rows, events.

Lock order, the same in every service: the member's row (`members.Member`, as a member's update
and erasure take it), then the membership's row, then, last, the member's event counter (drawn by
`event_record`). Nothing here touches the points ledger, so the order path's account lock never
meets these locks.

The primitives (`period_add`, `charge_add`, `membership_event`) assert that they run inside the
caller's transaction: a period, its charge, the membership's new state and its event commit
together or not at all.
"""

from __future__ import annotations

import calendar
import datetime as dt
from decimal import Decimal
from http import HTTPStatus

from django.db import IntegrityError, connection, transaction
from django.utils.translation import gettext

from config.errors import Conflict, NotFound, ServiceError
from events.services import event_record
from members.actors import Actor
from members.models import Member
from memberships.models import (
    ChargeKind,
    Membership,
    MembershipCharge,
    MembershipPeriod,
    PeriodKind,
)


def _assert_in_transaction() -> None:
    assert connection.in_atomic_block, "membership history is written inside a transaction"


def months_add(when: dt.datetime, months: int) -> dt.datetime:
    """`when` plus whole calendar months, the day clamped to the month's last (31 Jan + 1 = 28/29
    Feb), the time of day kept."""
    month_index = when.month - 1 + months
    year, month = when.year + month_index // 12, month_index % 12 + 1
    day = min(when.day, calendar.monthrange(year, month)[1])
    return when.replace(year=year, month=month, day=day)


def membership_lock(*, membership_id: int, member_id: int | None = None) -> Membership:
    """Lock the member, then the membership, and return it fresh (404 when unknown or another
    member's, given `member_id`)."""
    _assert_in_transaction()
    owner = Membership.objects.filter(pk=membership_id).values_list("member_id", flat=True).first()
    if owner is None or (member_id is not None and owner != member_id):
        raise NotFound(
            "membership_not_found",
            gettext("The member has no membership %(id)s.") % {"id": membership_id},
        )
    Member.objects.select_for_update().filter(pk=owner).values_list("pk", flat=True).first()
    return (
        Membership.objects.select_for_update()
        .select_related("plan", "member")
        .get(pk=membership_id)
    )


def last_period(membership: Membership) -> MembershipPeriod | None:
    return membership.periods.order_by("-number").first()


def charge_add(
    *,
    membership: Membership,
    period_number: int,
    kind: str,
    amount: Decimal,
    currency: str,
    actor: Actor,
    payment_reference: str = "",
    reason: str = "",
    now: dt.datetime,
) -> MembershipCharge:
    """One charge row. A payment reference already used by another payment is
    `409 payment_reference_used` (the unique constraint decides under a race)."""
    _assert_in_transaction()
    if (
        kind == ChargeKind.PAYMENT
        and MembershipCharge.objects.filter(
            kind=ChargeKind.PAYMENT, payment_reference=payment_reference
        ).exists()
    ):
        raise _reference_used(payment_reference)
    try:
        with transaction.atomic():
            return MembershipCharge.objects.create(
                membership=membership,
                period_number=period_number,
                kind=kind,
                amount=amount,
                currency=currency,
                payment_reference=payment_reference,
                reason=reason,
                created_at=now,
                **actor.as_fields(),
            )
    except IntegrityError:
        if kind == ChargeKind.PAYMENT:
            raise _reference_used(payment_reference) from None
        raise


def _reference_used(reference: str) -> ServiceError:
    return Conflict(
        "payment_reference_used",
        gettext("The payment %(reference)s already paid for a membership period.")
        % {"reference": repr(reference)},
        field="payment_reference",
    )


def period_add(
    *,
    membership: Membership,
    number: int,
    kind: str,
    starts_at: dt.datetime,
    ends_at: dt.datetime,
    payment: MembershipCharge | None,
    now: dt.datetime,
) -> MembershipPeriod:
    _assert_in_transaction()
    return MembershipPeriod.objects.create(
        membership=membership,
        number=number,
        kind=kind,
        starts_at=starts_at,
        ends_at=ends_at,
        payment=payment,
        created_at=now,
    )


def paid_period_add(
    *,
    membership: Membership,
    number: int,
    starts_at: dt.datetime,
    payment_reference: str,
    actor: Actor,
    now: dt.datetime,
) -> MembershipPeriod:
    """A paid period of the plan's length from `starts_at`, with its payment at today's price."""
    plan = membership.plan
    if not payment_reference:
        raise ServiceError(
            "validation_error",
            gettext("A paid period needs the shop's payment reference."),
            status=HTTPStatus.BAD_REQUEST,
            field="payment_reference",
        )
    payment = charge_add(
        membership=membership,
        period_number=number,
        kind=ChargeKind.PAYMENT,
        amount=plan.price,
        currency=plan.currency,
        payment_reference=payment_reference,
        actor=actor,
        now=now,
    )
    return period_add(
        membership=membership,
        number=number,
        kind=PeriodKind.PAID,
        starts_at=starts_at,
        ends_at=months_add(starts_at, plan.period_months),
        payment=payment,
        now=now,
    )


def membership_save(membership: Membership, *, now: dt.datetime, fields: list[str]) -> None:
    membership.updated_at = now
    membership.save(update_fields=[*fields, "updated_at"])


def membership_event(*, type: str, membership: Membership, payload: dict, now: dt.datetime):
    """The membership's event, last (its counter lock is the transaction's last for the member)."""
    _assert_in_transaction()
    return event_record(
        type=type,
        member_id=membership.member_id,
        member_external_id=membership.member.external_id,
        payload={"membership_id": membership.pk, "plan": membership.plan.code, **payload},
        occurred_at=now,
    )
