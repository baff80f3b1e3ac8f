"""Managing the reward catalogue: create, change, delete rewards and change their stock.

Every change is audited (`members.services.audit_record`, with the changed fields), and every
change of stock is a `StockMovement` with who and why, made in the same transaction as the change
under the reward's row lock (or as a conditional `UPDATE` that cannot go below zero). The lock is
`FOR NO KEY UPDATE`: it waits for redemptions in flight, whose inserts hold a KEY SHARE lock on
the reward, instead of deadlocking with them. `stock` is
never changed through `reward_update`: only `reward_stock_adjust` (a delta, for staff) and
`reward_stock_set` (an absolute value or unlimited, for the config import and the admin) touch it.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext

from config.errors import Conflict, ServiceError
from members.actors import Actor
from members.services import audit_record
from rewards.models import Reward, StockMovement

EDITABLE_FIELDS = (
    "name",
    "description",
    "kind",
    "sku",
    "points_cost",
    "value",
    "per_member_limit",
    "min_tier",
    "segment",
    "category",
    "active_from",
    "active_to",
    "coupon_valid_days",
    "min_points",
    "min_share",
    "max_share",
    "is_active",
)


def _require_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ServiceError(
            "validation_error", gettext("A reason is required."), status=400, field="reason"
        )
    return reason[:500]


def _check_fields(fields: dict[str, Any]) -> None:
    unknown = sorted(set(fields) - set(EDITABLE_FIELDS))
    if unknown:
        raise ServiceError(
            "validation_error",
            gettext("Unknown field: %(value)s") % {"value": unknown[0]},
            status=400,
            field=unknown[0],
        )


def _validated(reward: Reward) -> None:
    """Model validation (field validators and the kind rules the constraints state)."""
    reward.full_clean(validate_unique=True, validate_constraints=True)


def reward_create(*, code: str, actor: Actor, stock: int | None = None, **fields: Any) -> Reward:
    """Add a reward. An initial limited stock is recorded as the first stock movement."""
    _check_fields(fields)
    reward = Reward(code=(code or "").strip(), stock=stock, **fields)
    _validated(reward)
    with transaction.atomic():
        reward.save(force_insert=True)
        audit_record(actor=actor, action="reward.create", target=reward)
        if stock is not None:
            StockMovement.objects.create(
                reward=reward,
                kind=StockMovement.Kind.SET,
                delta=stock,
                stock_after=stock,
                reason="Initial stock",
                **actor.as_fields(),
            )
    return reward


def reward_update(*, reward: Reward, actor: Actor, reason: str = "", **fields: Any) -> Reward:
    """Change a reward's terms (not its stock). Issued coupons keep the terms they had."""
    if "stock" in fields:
        raise ServiceError(
            "validation_error",
            gettext("Stock changes go through a stock adjustment, with a reason."),
            status=400,
            field="stock",
        )
    _check_fields(fields)
    changes = {
        name: (getattr(reward, name), value)
        for name, value in fields.items()
        if getattr(reward, name) != value
    }
    if not changes:
        return reward
    with transaction.atomic():
        current = Reward.objects.select_for_update(no_key=True).get(pk=reward.pk)
        for name, value in fields.items():
            setattr(current, name, value)
        _validated(current)
        current.save(update_fields=[*fields, "updated_at"])
        audit_record(
            actor=actor, action="reward.update", target=current, changes=changes, reason=reason
        )
    for name in fields:
        setattr(reward, name, getattr(current, name))
    reward.updated_at = current.updated_at
    return reward


def reward_delete(*, reward: Reward, actor: Actor) -> None:
    """Delete a reward nobody has redeemed and whose stock never moved; else switch it off."""
    with transaction.atomic():
        current = Reward.objects.select_for_update().get(pk=reward.pk)
        if current.redemptions.exists() or current.stock_movements.exists():
            raise Conflict(
                "reward_in_use",
                gettext("Reward %(code)s has redemptions or stock history; deactivate it instead.")
                % {"code": current.code},
            )
        audit_record(actor=actor, action="reward.delete", target=current)
        current.delete()


def reward_stock_adjust(*, reward: Reward, delta: int, reason: str, actor: Actor) -> Reward:
    """Add (delta > 0) or remove (delta < 0) stock, with a reason. Never below zero.

    Errors: `validation_error` 400 (no reason, zero delta), `stock_unlimited` 422 (the reward has
    no stock limit: set one first), `stock_negative` 422 (removing more than is left).
    """
    reason = _require_reason(reason)
    if not isinstance(delta, int) or isinstance(delta, bool) or delta == 0:
        raise ServiceError(
            "validation_error",
            gettext("The change must be a whole number, not zero."),
            status=400,
            field="delta",
        )
    now = timezone.now()
    with transaction.atomic():
        current = Reward.objects.select_for_update(no_key=True).get(pk=reward.pk)
        if current.stock is None:
            raise ServiceError(
                "stock_unlimited",
                gettext("Reward %(code)s has unlimited stock; set a stock first.")
                % {"code": current.code},
            )
        if current.stock + delta < 0:
            raise ServiceError(
                "stock_negative",
                gettext("Only %(stock)s left; cannot remove %(delta)s.")
                % {"stock": current.stock, "delta": -delta},
                field="delta",
                extra={"stock": current.stock},
            )
        Reward.objects.filter(pk=current.pk).update(stock=F("stock") + delta, updated_at=now)
        current.refresh_from_db(fields=["stock", "updated_at"])
        StockMovement.objects.create(
            reward=current,
            kind=StockMovement.Kind.ADJUSTMENT,
            delta=delta,
            stock_after=current.stock,
            reason=reason,
            at=now,
            **actor.as_fields(),
        )
    reward.stock = current.stock
    return reward


def reward_stock_set(*, reward: Reward, stock: int | None, reason: str, actor: Actor) -> Reward:
    """Set the stock to a number, or to unlimited (None), with a reason; recorded as a movement."""
    reason = _require_reason(reason)
    if stock is not None and (not isinstance(stock, int) or isinstance(stock, bool) or stock < 0):
        raise ServiceError(
            "validation_error",
            gettext("Stock must be a whole number ≥ 0."),
            status=400,
            field="stock",
        )
    now = timezone.now()
    with transaction.atomic():
        current = Reward.objects.select_for_update(no_key=True).get(pk=reward.pk)
        if current.stock == stock:
            reward.stock = stock
            return reward
        delta = (stock or 0) - (current.stock or 0) if stock is not None else 0
        Reward.objects.filter(pk=current.pk).update(stock=stock, updated_at=now)
        StockMovement.objects.create(
            reward=current,
            kind=StockMovement.Kind.SET,
            delta=delta,
            stock_after=stock,
            reason=reason,
            at=now,
            **actor.as_fields(),
        )
    reward.stock = stock
    return reward


__all__ = [
    "reward_create",
    "reward_delete",
    "reward_stock_adjust",
    "reward_stock_set",
    "reward_update",
]
