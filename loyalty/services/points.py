"""Use cases that move points outside orders: adjust, spend, give back, reverse.

Each runs in its own transaction, takes the member's account lock first, brings the account up to
date (due lots matured, lapsed lots expired) and then posts. `points_spend` and
`points_return` are what the rewards app builds redemptions on.
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext

from config.errors import Conflict, ServiceError
from loyalty.models import Lot, Posting
from loyalty.models.ledger import PostingKind
from loyalty.selectors.program import program_settings
from loyalty.services.ledger import (
    NewCredit,
    account_lock,
    credit_post,
    debit_post,
    member_settle_due,
    spendable_points,
)
from loyalty.services.orders import order_points_held
from loyalty.services.outbox import EventType, earned_payload, member_event
from members.actors import Actor
from members.models import Member


def _require_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ServiceError(
            "validation_error", gettext("A reason is required."), status=400, field="reason"
        )
    return reason


def _lifetime_expiry(now: dt.datetime) -> dt.datetime | None:
    days = program_settings().points_lifetime_days
    return now + dt.timedelta(days=days) if days else None


def points_adjust_post(
    *,
    member: Member,
    points: int,
    reason: str,
    actor: Actor,
    idempotency_key: str,
    now: dt.datetime | None = None,
    adjustment_id: int | None = None,
) -> Posting:
    """Post a manual adjustment (credit or debit) now, with its `points.adjusted` event. Limits
    are the caller's business (`loyalty.services.adjustments`, whose approved request is
    `adjustment_id`); a debit cannot take the balance below zero."""
    reason = _require_reason(reason)
    if not points:
        raise ServiceError(
            "validation_error", gettext("Points must not be zero."), status=400, field="points"
        )
    now = now or timezone.now()
    with transaction.atomic():
        existing = Posting.objects.filter(idempotency_key=idempotency_key).first()
        if existing is not None:
            return existing
        account = account_lock(member_id=member.pk)
        member_settle_due(account=account, actor=actor, now=now)
        if points > 0:
            posting = credit_post(
                account=account,
                credit=NewCredit(
                    kind=PostingKind.ADJUST,
                    points=points,
                    idempotency_key=idempotency_key,
                    available_at=now,
                    expires_at=_lifetime_expiry(now),
                    reason=reason,
                    description="Adjustment",
                    source_type="adjustment",
                ),
                actor=actor,
                now=now,
            )
        else:
            posting = debit_post(
                account=account,
                kind=PostingKind.ADJUST,
                points=-points,
                idempotency_key=idempotency_key,
                actor=actor,
                allow_debt=False,
                reason=reason,
                description="Adjustment",
                source_type="adjustment",
                now=now,
            ).posting
        member_event(
            type=EventType.POINTS_ADJUSTED,
            member=member,
            payload={"points": points, "adjustment_id": adjustment_id},
            occurred_at=now,
        )
        return posting


def points_spend(
    *,
    member: Member,
    points: int,
    actor: Actor,
    idempotency_key: str,
    reward_code: str = "",
    source_type: str = "redemption",
    source_id: str = "",
    description: str = "",
    now: dt.datetime | None = None,
) -> Posting:
    """Spend available points (soonest-expiring first). `insufficient_points` if short.

    Must be called inside the caller's transaction (a redemption also takes stock and issues a
    coupon in the same one): the account lock is held until that transaction ends.
    """
    if points <= 0:
        raise ServiceError(
            "validation_error", gettext("Points must be positive."), status=400, field="points"
        )
    now = now or timezone.now()
    account = account_lock(member_id=member.pk)
    member_settle_due(account=account, actor=actor, now=now)
    return debit_post(
        account=account,
        kind=PostingKind.REDEEM,
        points=points,
        idempotency_key=idempotency_key,
        actor=actor,
        allow_debt=False,
        reward_code=reward_code,
        source_type=source_type,
        source_id=source_id,
        description=description or f"Redeemed {reward_code}".strip(),
        now=now,
    ).posting


def points_return(
    *,
    spend: Posting,
    actor: Actor,
    idempotency_key: str,
    reason: str = "",
    now: dt.datetime | None = None,
) -> Posting:
    """Give back the points of a spend (a cancelled redemption), once.

    The points come back as a new available lot that expires when the latest of the lots they
    were taken from would have (never earlier than now), so cancelling cannot extend or shorten a
    point's life beyond what it had.

    Once per spend, whatever the key: the return `reverses` the spend (unique in the database), so
    a second return under another key, or one after a Supervisor reversed the spend, gives back
    nothing and answers with the posting that already did.
    """
    now = now or timezone.now()
    existing = Posting.objects.filter(idempotency_key=idempotency_key).first()
    if existing is not None:
        return existing
    account = account_lock(member_id=spend.member_id)
    existing = (
        Posting.objects.filter(idempotency_key=idempotency_key).first()
        or Posting.objects.filter(reverses=spend).first()
    )
    if existing is not None:
        return existing
    lots = Lot.objects.filter(allocations__posting=spend)
    if lots.filter(expires_at__isnull=True).exists():
        expires_at = None
    else:
        expires_at = lots.aggregate(m=Max("expires_at"))["m"] or _lifetime_expiry(now)
        if expires_at is not None:
            expires_at = max(expires_at, now)
    return credit_post(
        account=account,
        credit=NewCredit(
            kind=PostingKind.CANCEL_REDEMPTION,
            points=-spend.points,
            idempotency_key=idempotency_key,
            available_at=now,
            expires_at=expires_at,
            reason=reason,
            description=f"Returned: {spend.description}",
            reward_code=spend.reward_code,
            source_type=spend.source_type,
            source_id=spend.source_id,
            reverses_id=spend.pk,
        ),
        actor=actor,
        now=now,
    )


def posting_reverse(
    *, posting: Posting, reason: str, actor: Actor, now: dt.datetime | None = None
) -> Posting:
    """Reverse a posting with a reason (Supervisors), once.

    A credit is taken back from what is left of its own lot first, then from other available
    points; beyond the balance it becomes a debt if negative balances are allowed, else it is
    refused. A debit is given back as an available lot. A credit of an order is reversed only as
    far as the order's refunds (and earlier reversals) have not already taken its points back.
    """
    reason = _require_reason(reason)
    now = now or timezone.now()
    if posting.kind in (PostingKind.REVERSAL, PostingKind.EXPIRE):
        raise ServiceError(
            "not_reversible",
            gettext("Reversals and expiries cannot be reversed; adjust the balance instead."),
        )
    with transaction.atomic():
        account = account_lock(member_id=posting.member_id)
        if Posting.objects.filter(reverses=posting).exists():
            raise Conflict(
                "already_reversed",
                gettext("Posting %(posting_pk)s was already reversed.")
                % {"posting_pk": posting.pk},
            )
        points = posting.points
        if points > 0 and posting.order_id is not None:
            # An order's points are taken back once: not again what its refunds already took.
            points = min(points, order_points_held(order=posting.order))
            if points <= 0:
                raise ServiceError(
                    "not_reversible",
                    gettext(
                        "Refunds of order %(posting_order_order_id)s already took these points "
                        "back."
                    )
                    % {"posting_order_order_id": posting.order.order_id},
                )
        member_settle_due(account=account, actor=actor, now=now)
        key = f"reverse:{posting.pk}"
        description = f"Reversal of posting #{posting.pk} ({posting.get_kind_display()})"
        if points > 0:
            own = list(Lot.objects.filter(posting=posting, remaining__gt=0))
            debit = debit_post(
                account=account,
                kind=PostingKind.REVERSAL,
                points=points,
                idempotency_key=key,
                actor=actor,
                allow_debt=program_settings().allow_negative_balance,
                first_lots=own,
                reason=reason,
                description=description,
                order_id=posting.order_id,
                source_type="reversal",
                source_id=str(posting.pk),
                reverses_id=posting.pk,
                now=now,
            )
            reversal, debt = debit.posting, debit.debt
        else:
            reversal, debt = _credit_back(posting, account, key, description, reason, actor, now), 0
        member_event(
            type=EventType.POINTS_REVERSED,
            member_id=posting.member_id,
            payload={
                "points": reversal.points,
                "reason": "reversal",
                "order_id": posting.order.order_id if posting.order_id else None,
                "refund_id": None,
                "debt": debt,
            },
            occurred_at=now,
        )
        return reversal


def _credit_back(posting, account, key, description, reason, actor, now) -> Posting:
    """A reversed debit given back as an available lot (`posting_reverse`)."""
    return credit_post(
        account=account,
        credit=NewCredit(
            kind=PostingKind.REVERSAL,
            points=-posting.points,
            idempotency_key=key,
            available_at=now,
            expires_at=_lifetime_expiry(now),
            reason=reason,
            description=description,
            order_id=posting.order_id,
            source_type="reversal",
            source_id=str(posting.pk),
            reverses_id=posting.pk,
        ),
        actor=actor,
        now=now,
    )


__all__ = [
    "points_adjust_post",
    "points_award",
    "points_return",
    "points_spend",
    "posting_reverse",
    "spendable_points",
]


def points_award(
    *,
    member: Member,
    points: int,
    campaign_code: str,
    idempotency_key: str,
    actor: Actor,
    description: str = "",
    source_type: str = "campaign",
    source_id: str = "",
    now: dt.datetime | None = None,
) -> Posting:
    """Award bonus points outside an order (an action, a birthday, a referral), available at once.

    Runs inside the caller's transaction; takes the member's account lock (the caller holds it
    already if it locked first, which is the fixed order: account, then campaign rows). Once per
    idempotency key.
    """
    if points <= 0:
        raise ServiceError(
            "validation_error", gettext("Points must be positive."), status=400, field="points"
        )
    now = now or timezone.now()
    existing = Posting.objects.filter(idempotency_key=idempotency_key).first()
    if existing is not None:
        return existing
    account = account_lock(member_id=member.pk)
    settings = program_settings()  # read once: the expiry, and the tier metric below
    days = settings.points_lifetime_days
    posting = credit_post(
        account=account,
        credit=NewCredit(
            kind=PostingKind.CAMPAIGN_BONUS,
            points=points,
            idempotency_key=idempotency_key,
            available_at=now,
            expires_at=now + dt.timedelta(days=days) if days else None,
            description=description or f"Campaign {campaign_code}",
            campaign_code=campaign_code,
            source_type=source_type,
            source_id=source_id,
        ),
        actor=actor,
        now=now,
    )
    member_event(
        type=EventType.POINTS_EARNED,
        member=member,
        payload=earned_payload(credits=[posting], order_id=None),
        occurred_at=now,
    )
    # A ladder on growth value: this bonus may count, and reach a higher tier at once.
    from loyalty.services.tiers import tier_after_growth

    tier_after_growth(
        member_id=member.pk,
        at=now,
        note=f"Bonus {source_id or campaign_code}",
        actor=actor,
        settings=settings,
    )
    return posting
