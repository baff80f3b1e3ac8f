"""Redeeming rewards: spend points, take stock, issue a coupon; then use, cancel or expire it.

Each use case runs in one transaction (a savepoint when the caller, e.g. the API's idempotency
wrapper, already opened one): all of it happens or none of it.

Lock order, the same everywhere so two transactions never wait on each other in a circle:
the member's loyalty `Account` (`account_lock`) first, then the redemption row, then the reward
row. Redeeming takes the account lock and then one unit of stock with a conditional
`UPDATE ... SET stock = stock - 1 WHERE stock > 0`, which locks the reward row last and can never
take the stock below zero; it runs before the rows that reference the reward (the redemption, the
stock movement) are inserted, so no transaction ever upgrades a foreign-key KEY SHARE lock on the
reward. The per-member limit is counted under the account lock, so a member's concurrent
redemptions are counted one after the other.

Choices (docs/rewards.md):
- Cancelling an issued coupon gives the points back (once: `points_return`, keyed by the
  redemption) and the stock back (once: the status changes under the row lock).
- An expired coupon gives no points back (the member had the whole validity to use it; most
  platforms do the same) but its unit of stock returns to the catalogue (nothing was given away).
- A coupon past its `expires_at` is expired for `use` and `cancel` even before the daily job
  has marked it.
"""

from __future__ import annotations

import datetime as dt
import math
import secrets
import uuid
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal

from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext

from config.errors import Conflict, Gone, ServiceError
from loyalty.selectors.program import program_settings
from loyalty.services.ledger import account_lock
from loyalty.services.outbox import EventType, member_event
from loyalty.services.points import points_return, points_spend
from members.actors import Actor
from members.models import Member
from rewards.models import Redemption, RedemptionStatus, Reward, RewardKind, StockMovement
from rewards.selectors import (
    Reason,
    member_redemption_counts,
    member_tier_rank,
    reward_get_by_code,
    reward_ineligibility,
)

# No 0/O, 1/I/L: coupon codes are read aloud and typed by hand. 31^12 ≈ 2^59 codes.
COUPON_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
COUPON_LENGTH = 12
CENT = Decimal("0.01")
EXPIRY_BATCH = 500


def coupon_code_generate() -> str:
    return "".join(secrets.choice(COUPON_ALPHABET) for _ in range(COUPON_LENGTH))


@dataclass(frozen=True)
class RedemptionResult:
    redemption: Redemption
    available: int  # the member's available points after the spend


@dataclass(frozen=True)
class PointsDiscountQuote:
    points: int
    value: Decimal
    min_points: int
    max_points: int


def points_discount_value(*, points: int, point_value: Decimal) -> Decimal:
    """Money `points` buy at `point_value`, rounded down to the cent (never more than earned)."""
    return (Decimal(points) * point_value).quantize(CENT, rounding=ROUND_DOWN)


def points_discount_quote(
    *, reward: Reward, points: int, order_total: Decimal, point_value: Decimal
) -> PointsDiscountQuote:
    """Check a points_discount request against the reward's bounds; `points_out_of_range` if not.

    The discount must be at least `min_points` and its value must lie within
    `min_share` × order total .. `max_share` × order total. The error names `points` and carries
    the allowed range (`min_points`, `max_points`) so the storefront can offer it.
    """
    if order_total <= 0:
        raise ServiceError(
            "validation_error",
            gettext("order_total must be more than zero."),
            status=400,
            field="order_total",
        )
    if point_value <= 0:
        raise ServiceError("reward_inactive", gettext("Points have no value in this program."))
    lower = order_total * reward.min_share
    upper = order_total * reward.max_share
    max_points = math.floor(upper / point_value)
    min_points = max(reward.min_points or 1, math.ceil(lower / point_value))
    while points_discount_value(points=min_points, point_value=point_value) < lower:
        min_points += 1
    value = points_discount_value(points=points, point_value=point_value)
    if not (min_points <= points <= max_points) or not (lower <= value <= upper):
        allowed = (
            f"between {min_points} and {max_points} points"
            if min_points <= max_points
            else "no number of points (the order is too small)"
        )
        raise ServiceError(
            "points_out_of_range",
            gettext("For an order of %(order_total)s this reward takes %(allowed)s.")
            % {"order_total": order_total, "allowed": allowed},
            field="points",
            extra={"min_points": min_points, "max_points": max(max_points, 0)},
        )
    return PointsDiscountQuote(
        points=points, value=value, min_points=min_points, max_points=max_points
    )


def _ineligible_error(reason: str, reward: Reward) -> ServiceError:
    if reason == Reason.NOT_ACTIVE:
        return ServiceError(
            "reward_inactive",
            gettext("Reward %(reward_code)s is not available now.") % {"reward_code": reward.code},
        )
    if reason == Reason.LIMIT_REACHED:
        return ServiceError(
            "limit_reached",
            gettext(
                "This member has redeemed %(reward_code)s the most times allowed "
                "(%(reward_per_member_limit)s)."
            )
            % {"reward_code": reward.code, "reward_per_member_limit": reward.per_member_limit},
        )
    if reason == Reason.OUT_OF_STOCK:
        return Conflict(
            "out_of_stock",
            gettext("Reward %(reward_code)s is out of stock.") % {"reward_code": reward.code},
        )
    if reason == Reason.TIER_TOO_LOW:
        return ServiceError(
            "not_eligible",
            gettext("Reward %(reward_code)s needs tier %(reward_min_tier_name)s or higher.")
            % {"reward_code": reward.code, "reward_min_tier_name": reward.min_tier.name},
            extra={"reason": reason},
        )
    if reason == Reason.NOT_IN_SEGMENT:
        return ServiceError(
            "not_eligible",
            gettext("Reward %(reward_code)s is only for the members of a segment.")
            % {"reward_code": reward.code},
            extra={"reason": reason},
        )
    return ServiceError(
        "not_eligible", gettext("This member cannot redeem rewards now."), extra={"reason": reason}
    )


def _stock_take(*, reward: Reward) -> int:
    """Take one unit of a limited reward: a conditional UPDATE that cannot go below zero.

    Runs before anything that references the reward row is inserted: an insert's foreign-key
    check takes a KEY SHARE lock on the reward, and upgrading from it to the UPDATE's lock while
    a staff stock change waits for the row would deadlock. Returns the stock left.
    """
    taken = Reward.objects.filter(pk=reward.pk, stock__gt=0).update(stock=F("stock") - 1)
    if not taken:
        raise Conflict(
            "out_of_stock",
            gettext("Reward %(reward_code)s is out of stock.") % {"reward_code": reward.code},
        )
    return Reward.objects.filter(pk=reward.pk).values_list("stock", flat=True).get()


def _stock_give_back(
    *, reward_id: int, redemption: Redemption, kind: str, reason: str, actor: Actor, now
) -> None:
    """Return one unit to a reward that still has limited stock (an unlimited one needs none)."""
    returned = Reward.objects.filter(pk=reward_id, stock__isnull=False).update(stock=F("stock") + 1)
    if not returned:
        return
    stock_after = Reward.objects.filter(pk=reward_id).values_list("stock", flat=True).get()
    StockMovement.objects.create(
        reward_id=reward_id,
        kind=kind,
        delta=1,
        stock_after=stock_after,
        redemption=redemption,
        reason=reason,
        at=now,
        **actor.as_fields(),
    )


def redemption_create(
    *,
    member: Member,
    reward_code: str,
    actor: Actor,
    points: int | None = None,
    order_total: Decimal | None = None,
    now: dt.datetime | None = None,
) -> RedemptionResult:
    """Redeem a reward for a member: spend the points, take one from stock, issue a coupon.

    Errors: `reward_not_found` 404, `member_erased` 410, `reward_inactive` 422, `not_eligible`
    422 (tier too low, member suspended), `limit_reached` 422, `out_of_stock` 409,
    `insufficient_points` 422, and for `points_discount` `points_out_of_range` 422 or
    `validation_error` 400 (`points`/`order_total` missing, or sent for another kind).
    """
    now = now or timezone.now()
    if member.is_erased:
        raise Gone("member_erased", gettext("This member's data has been erased."))
    reward = reward_get_by_code(code=reward_code)
    if reward.kind == RewardKind.POINTS_DISCOUNT:
        for name, given in (("points", points), ("order_total", order_total)):
            if given is None:
                raise ServiceError(
                    "validation_error",
                    gettext("%(name)s is required for a points_discount reward.") % {"name": name},
                    status=400,
                    field=name,
                )
    else:
        for name, given in (("points", points), ("order_total", order_total)):
            if given is not None:
                raise ServiceError(
                    "validation_error",
                    gettext("%(name)s is only for points_discount rewards.") % {"name": name},
                    status=400,
                    field=name,
                )

    with transaction.atomic():
        account = account_lock(member_id=member.pk)  # first lock, always
        member = Member.objects.get(pk=member.pk)  # status as of the lock
        counts = member_redemption_counts(member_id=member.pk, reward_ids=[reward.pk])
        reason = reward_ineligibility(
            reward=reward,
            member=member,
            tier_rank=member_tier_rank(member_id=member.pk),
            redeemed=counts.get(reward.pk, 0),
            now=now,
        )
        if reason is not None:
            raise _ineligible_error(reason, reward)

        settings = program_settings()
        if reward.kind == RewardKind.POINTS_DISCOUNT:
            quote = points_discount_quote(
                reward=reward,
                points=points,
                order_total=order_total,
                point_value=settings.point_value,
            )
            cost, value = quote.points, quote.value
        else:
            cost, value = reward.points_cost, reward.value

        redemption = Redemption(
            id=uuid.uuid4(),
            member_id=member.pk,
            reward_id=reward.pk,
            kind=reward.kind,
            points_spent=cost,
            value=value,
            currency=settings.currency,
            sku=reward.sku,
            created_at=now,
            expires_at=now + dt.timedelta(days=reward.coupon_valid_days),
            order_total=order_total,
            **actor.as_fields(),
        )
        # Points first: it touches only this member's rows. The hot reward row is locked last
        # (the stock), before the rows that reference it are inserted, and held briefly.
        redemption.spend_posting = points_spend(
            member=member,
            points=cost,
            actor=actor,
            idempotency_key=f"redemption:{redemption.pk}:spend",
            reward_code=reward.code,
            source_type="redemption",
            source_id=str(redemption.pk),
            description=f"Redeemed {reward.name}"[:255],
            now=now,
        )
        stock_after = _stock_take(reward=reward) if reward.stock is not None else None
        coupon_insert(redemption)
        if stock_after is not None:
            StockMovement.objects.create(
                reward_id=reward.pk,
                kind=StockMovement.Kind.REDEMPTION,
                delta=-1,
                stock_after=stock_after,
                redemption=redemption,
                reason=f"Redeemed: coupon {redemption.coupon_code}",
                at=now,
                **actor.as_fields(),
            )
        account.refresh_from_db(fields=["available"])
        redemption.reward = reward
        member_event(
            type=EventType.REWARD_REDEEMED,
            member=member,
            payload={
                "redemption_id": str(redemption.pk),
                "reward_code": reward.code,
                "points": -cost,
                "expires_at": redemption.expires_at,
            },
            occurred_at=now,
        )
    return RedemptionResult(redemption=redemption, available=account.available)


def coupon_insert(redemption: Redemption) -> None:
    """Insert the redemption with a fresh coupon code, drawing again on the rare collision."""
    for _ in range(5):
        redemption.coupon_code = coupon_code_generate()
        try:
            with transaction.atomic():
                redemption.save(force_insert=True)
            return
        except IntegrityError:
            if not Redemption.objects.filter(coupon_code=redemption.coupon_code).exists():
                raise
    raise ServiceError(  # pragma: no cover - five collisions in 2^59 means something is wrong
        "coupon_code_exhausted", gettext("Could not allocate a coupon code."), status=503
    )


def _lock_redemption(redemption: Redemption) -> Redemption:
    # `of=self`: lock the redemption only, not the (hot) reward row the join reads.
    return (
        Redemption.objects.select_for_update(of=("self",))
        .select_related("reward")
        .get(pk=redemption.pk)
    )


def _require_issued(redemption: Redemption, *, now: dt.datetime) -> None:
    status = redemption.status
    if status == RedemptionStatus.USED:
        raise Conflict(
            "redemption_used",
            f"Coupon {redemption.coupon_code} was already used"
            + (f" on order {redemption.used_order_id}." if redemption.used_order_id else "."),
        )
    if status == RedemptionStatus.CANCELLED:
        raise Conflict(
            "redemption_cancelled",
            gettext("Coupon %(redemption_coupon_code)s was cancelled.")
            % {"redemption_coupon_code": redemption.coupon_code},
        )
    if redemption.status_at(now) == RedemptionStatus.EXPIRED:
        raise Conflict(
            "redemption_expired",
            gettext("Coupon %(redemption_coupon_code)s has expired.")
            % {"redemption_coupon_code": redemption.coupon_code},
        )


def redemption_use(
    *, redemption: Redemption, order_id: str, actor: Actor, now: dt.datetime | None = None
) -> Redemption:
    """Mark an issued coupon used on an order. `redemption_used|cancelled|expired` 409."""
    now = now or timezone.now()
    order_id = (order_id or "").strip()
    if not order_id:
        raise ServiceError(
            "validation_error", gettext("order_id is required."), status=400, field="order_id"
        )
    with transaction.atomic():
        locked = _lock_redemption(redemption)
        _require_issued(locked, now=now)
        Redemption.objects.filter(pk=locked.pk).update(
            status=RedemptionStatus.USED, used_at=now, used_order_id=order_id, updated_at=now
        )
        reward_code = locked.reward.code
        locked.refresh_from_db()
        member_event(
            type=EventType.COUPON_USED,
            member_id=locked.member_id,
            payload={
                "redemption_id": str(locked.pk),
                "reward_code": reward_code,
                "order_id": order_id,
            },
            occurred_at=now,
        )
    return locked


def redemption_cancel(
    *,
    redemption: Redemption,
    actor: Actor,
    reason: str = "",
    now: dt.datetime | None = None,
) -> Redemption:
    """Cancel an issued coupon: the points (none for a gift) and the stock come back, once.

    `redemption_used|cancelled|expired` 409. Lock order: account, redemption, reward.
    """
    now = now or timezone.now()
    reason = (reason or "").strip() or "Cancelled"
    with transaction.atomic():
        account_lock(member_id=redemption.member_id)
        locked = _lock_redemption(redemption)
        _require_issued(locked, now=now)
        returned = None  # a gift: no points were spent, none come back
        if locked.spend_posting_id is not None:
            returned = points_return(
                spend=locked.spend_posting,
                actor=actor,
                idempotency_key=f"redemption:{locked.pk}:return",
                reason=reason[:500],
                now=now,
            )
        Redemption.objects.filter(pk=locked.pk).update(
            status=RedemptionStatus.CANCELLED,
            cancelled_at=now,
            cancel_reason=reason[:500],
            return_posting=returned,
            updated_at=now,
        )
        _stock_give_back(
            reward_id=locked.reward_id,
            redemption=locked,
            kind=StockMovement.Kind.CANCELLATION,
            reason=f"Cancelled: coupon {locked.coupon_code} ({reason})"[:500],
            actor=actor,
            now=now,
        )
        reward_code = locked.reward.code
        locked.refresh_from_db()
        member_event(
            type=EventType.COUPON_CANCELLED,
            member_id=locked.member_id,
            payload={
                "redemption_id": str(locked.pk),
                "reward_code": reward_code,
                "points_returned": returned.points if returned is not None else 0,
            },
            occurred_at=now,
        )
    return locked


def redemptions_expire(*, cutoff: dt.datetime, actor: Actor, batch: int = EXPIRY_BATCH) -> int:
    """Expire issued coupons whose `expires_at` is at or before `cutoff`; stock comes back.

    Safe to repeat and to run beside redemptions: each batch locks its rows (skipping rows another
    transaction holds, e.g. a cancellation in flight, which a later run picks up), re-reads their
    status under the lock and only then marks them. No points come back (docs/rewards.md).
    """
    skip_locked = connection.features.has_select_for_update_skip_locked
    expired = 0
    while True:
        with transaction.atomic():
            rows = list(
                Redemption.objects.select_for_update(skip_locked=skip_locked)
                .filter(status=RedemptionStatus.ISSUED, expires_at__lte=cutoff)
                .order_by("expires_at", "pk")
                .values_list("pk", "reward_id", "coupon_code")[:batch]
            )
            if not rows:
                break
            now = timezone.now()
            Redemption.objects.filter(pk__in=[pk for pk, _, _ in rows]).update(
                status=RedemptionStatus.EXPIRED, expired_at=now, updated_at=now
            )
            # Rewards in primary-key order: the fixed order when several rows are locked.
            for pk, reward_id, coupon in sorted(rows, key=lambda row: (row[1], str(row[0]))):
                _stock_give_back(
                    reward_id=reward_id,
                    redemption=Redemption(pk=pk),
                    kind=StockMovement.Kind.EXPIRY,
                    reason=f"Expired unused: coupon {coupon}",
                    actor=actor,
                    now=now,
                )
            expired += len(rows)
        if len(rows) < batch:
            break
    return expired


def coupons_expire_daily_step(*, as_of: dt.date, cutoff: dt.datetime, actor: Actor) -> int:
    """The daily jobs' `expire_coupons` step (registered in `RewardsConfig.ready()`)."""
    return redemptions_expire(cutoff=cutoff, actor=actor)
