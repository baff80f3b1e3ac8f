"""Gifts: a reward's coupon given, not bought. A campaign (birthday, tier entry, first order, an
action, a referral) or the birthday-gift perk grants one through `gift_grant`.

A gift is recorded like a redemption (docs/rewards.md, "Gifts"): a `Redemption` with no points
spent and no spend posting, its cause (`gift_cause`, e.g. `campaign:BDAY`) and its idempotency
key (`gift_key`, e.g. `campaign:BDAY:42:birthday:2026`). It draws on the reward's stock with the
same conditional `UPDATE ... WHERE stock > 0` as a redemption, and records the same stock
movement; cancelling or expiring it gives the unit back (no points: none were spent).

Invariants:
- Exact against stock under concurrency: the stock is taken by the conditional UPDATE (never
  below zero), before the redemption row is inserted (`redemptions._stock_take`'s order).
- Once per key: the key is looked up under the member's account lock (a twin with the same key
  waits for it, then finds the first's row) and is unique in the database besides.
- Lock order: the member's loyalty account first, then the reward row (as `redemption_create`).
- A gift that cannot be given (the reward not live or out of stock, the member not active) is
  not an error: the result says why and nothing is written, so the cause's own transaction (a
  batch of tier changes, the daily birthday step) goes on. A later replay of the same key may
  then grant it, once.
- The rules for buying (minimum tier, segment, per-member limit) do not apply: the cause chose
  the member.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from loyalty.selectors.program import program_settings
from loyalty.services.ledger import account_lock
from loyalty.services.outbox import EventType, member_event
from members.actors import Actor
from members.models import Member
from rewards.models import Redemption, Reward, StockMovement
from rewards.services.redemptions import coupon_insert

GIVEN = "given"
ALREADY_GIVEN = "already_given"
OUT_OF_STOCK = "out_of_stock"
REWARD_INACTIVE = "reward_inactive"
MEMBER_INACTIVE = "member_inactive"


@dataclass(frozen=True)
class GiftResult:
    redemption: Redemption | None
    outcome: str  # GIVEN, ALREADY_GIVEN, or why nothing was given

    @property
    def created(self) -> bool:
        return self.outcome == GIVEN


def gift_grant(
    *,
    member: Member,
    reward: Reward,
    cause: str,
    key: str,
    actor: Actor,
    now: dt.datetime | None = None,
) -> GiftResult:
    """Give the member one coupon of `reward`, once per `key`; `cause` says why (a campaign's
    `campaign:<code>`, `perk:birthday_gift`). Its own savepoint inside the caller's
    transaction, or its own transaction."""
    now = now or timezone.now()
    with transaction.atomic():
        account_lock(member_id=member.pk)
        existing = Redemption.objects.filter(gift_key=key).first()
        if existing is not None:
            return GiftResult(existing, ALREADY_GIVEN)
        status = Member.objects.filter(pk=member.pk).values_list("status", flat=True).first()
        if status != Member.Status.ACTIVE:
            return GiftResult(None, MEMBER_INACTIVE)
        if not reward.is_live(now):
            return GiftResult(None, REWARD_INACTIVE)
        stock_after = None
        if reward.stock is not None:
            taken = Reward.objects.filter(pk=reward.pk, stock__gt=0).update(stock=F("stock") - 1)
            if not taken:
                return GiftResult(None, OUT_OF_STOCK)
            stock_after = Reward.objects.filter(pk=reward.pk).values_list("stock", flat=True).get()
        redemption = _gift_insert(
            member=member, reward=reward, cause=cause, key=key, actor=actor, now=now
        )
        if stock_after is not None:
            StockMovement.objects.create(
                reward_id=reward.pk,
                kind=StockMovement.Kind.REDEMPTION,
                delta=-1,
                stock_after=stock_after,
                redemption=redemption,
                reason=f"Gift ({cause}): coupon {redemption.coupon_code}"[:500],
                at=now,
                **actor.as_fields(),
            )
        member_event(
            type=EventType.REWARD_GIFTED,
            member=member,
            payload={
                "redemption_id": str(redemption.pk),
                "reward_code": reward.code,
                "cause": cause,
                "expires_at": redemption.expires_at,
            },
            occurred_at=now,
        )
    return GiftResult(redemption, GIVEN)


def _gift_insert(
    *, member: Member, reward: Reward, cause: str, key: str, actor: Actor, now: dt.datetime
) -> Redemption:
    redemption = Redemption(
        id=uuid.uuid4(),
        member_id=member.pk,
        reward_id=reward.pk,
        kind=reward.kind,
        points_spent=0,
        value=reward.value,
        currency=program_settings().currency,
        sku=reward.sku,
        created_at=now,
        expires_at=now + dt.timedelta(days=reward.coupon_valid_days),
        gift_cause=cause[:128],
        gift_key=key[:255],
        **actor.as_fields(),
    )
    coupon_insert(redemption)
    redemption.reward = reward
    return redemption


def gifts_count(*, member_id: int, cause: str) -> int:
    """How many gifts of this cause the member has had (a campaign's per-member limit)."""
    return Redemption.objects.filter(member_id=member_id, gift_cause=cause).count()
