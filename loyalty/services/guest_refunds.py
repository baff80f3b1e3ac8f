"""Refunds of guest orders: `POST /api/v1/orders/{order_id}/refunds` on a guest order's id.

A guest order earned nothing, so its refund reverses nothing: it is recorded (`GuestRefund`) and
the order's `refunded_total` / `refunded_amount` grow, as a member's order's do, so that what
was refunded is known. Invariants, the same as a member's refund (`refund_record`):

- idempotent by `refund_id`: the same refund again answers the stored one (`created` False);
  another amount, time or order under the same id is `409 refund_conflict`. Refund ids are one
  namespace with members' refunds: an id a member's refund has is a conflict here, and the
  reverse (`refund_record` checks guest refunds);
- the refunds of an order never add up to more than its eligible total
  (`422 refund_exceeds_order`; a database constraint holds it too); the amount is positive;
- a guest order a member has claimed is refunded on the member's order (`refund_record` on its
  `claimed_order`): the points the claim gave are reversed like any order's.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext

from config.errors import Conflict, ServiceError
from loyalty.models import GuestOrder, GuestRefund, Refund
from loyalty.services.orders import (
    RefundResult,
    _cents_checked,
    _fingerprint,
    _money,
    refund_record,
)
from members.actors import Actor

CENT = Decimal("0.01")


@dataclass(frozen=True)
class GuestRefundResult:
    refund: GuestRefund
    created: bool


def _refund_conflict(refund_id: str) -> Conflict:
    return Conflict(
        "refund_conflict",
        gettext("Refund %(refund_refund_id)s was already recorded with different content.")
        % {"refund_refund_id": refund_id},
    )


def _replay(refund: GuestRefund, fingerprint: str, order_id: str) -> GuestRefundResult:
    if refund.fingerprint != fingerprint or refund.guest_order.order_id != order_id:
        raise _refund_conflict(refund.refund_id)
    return GuestRefundResult(refund, created=False)


def guest_refund_record(
    *,
    order_id: str,
    refund_id: str,
    amount: Decimal,
    actor: Actor,
    refunded_at: dt.datetime | None = None,
    now: dt.datetime | None = None,
) -> GuestRefundResult | RefundResult | None:
    """Record a refund of the guest order `order_id`; None when no guest order has that id.
    A claimed guest order's refund is the member's order's (`RefundResult`)."""
    _cents_checked(amount=amount)
    fingerprint = _fingerprint(
        {
            "order_id": order_id,
            "amount": _money(amount),
            "refunded_at": refunded_at.isoformat() if refunded_at else None,
        }
    )
    existing = GuestRefund.objects.select_related("guest_order").filter(refund_id=refund_id).first()
    if existing is not None:
        return _replay(existing, fingerprint, order_id)
    guest = GuestOrder.objects.select_related("claimed_order").filter(order_id=order_id).first()
    if guest is None:
        return None
    if guest.claimed_order is not None:
        return refund_record(
            order_id=guest.claimed_order.order_id,
            refund_id=refund_id,
            amount=amount,
            refunded_at=refunded_at,
            actor=actor,
            now=now,
        )
    if amount <= 0:
        raise ServiceError(
            "validation_error",
            gettext("A refund amount must be positive."),
            status=400,
            field="amount",
        )
    if Refund.objects.filter(refund_id=refund_id).exists():
        raise _refund_conflict(refund_id)
    now = now or timezone.now()
    try:
        with transaction.atomic():
            return _write(guest.pk, refund_id, amount, refunded_at or now, fingerprint, now)
    except IntegrityError:  # the same refund_id at the same instant: answer the winner
        refund = GuestRefund.objects.select_related("guest_order").get(refund_id=refund_id)
        return _replay(refund, fingerprint, order_id)


def _write(pk, refund_id, amount, refunded_at, fingerprint, now) -> GuestRefundResult:
    guest = GuestOrder.objects.select_for_update().get(pk=pk)
    existing = GuestRefund.objects.filter(refund_id=refund_id).first()
    if existing is not None:  # written while we waited for the lock
        existing.guest_order = guest
        return _replay(existing, fingerprint, guest.order_id)
    eligible = guest.total if guest.eligible_total is None else guest.eligible_total
    refunded_total = guest.refunded_total + amount
    if refunded_total > eligible:
        raise ServiceError(
            "refund_exceeds_order",
            gettext(
                "Refunds of order %(order_id)s would total %(refunded_total)s, more than its "
                "eligible amount %(eligible)s (%(order_refunded_total)s already refunded)."
            )
            % {
                "order_id": guest.order_id,
                "refunded_total": refunded_total,
                "eligible": eligible,
                "order_refunded_total": guest.refunded_total,
            },
            field="amount",
        )
    refund = GuestRefund.objects.create(
        refund_id=refund_id,
        guest_order=guest,
        amount=amount,
        refunded_at=refunded_at,
        fingerprint=fingerprint,
        created_at=now,
    )
    GuestOrder.objects.filter(pk=guest.pk).update(
        refunded_total=refunded_total,
        refunded_amount=min(
            (refunded_total * guest.exchange_rate).quantize(CENT, rounding=ROUND_FLOOR),
            guest.eligible_amount,
        ),
    )
    return GuestRefundResult(refund, created=True)
