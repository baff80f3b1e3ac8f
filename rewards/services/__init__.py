"""Writes to the rewards app: the catalogue (`catalogue`) and redemptions (`redemptions`).

Import from here or from the module: `from rewards.services import redemption_create`.
"""

from rewards.services.catalogue import (
    reward_create,
    reward_delete,
    reward_stock_adjust,
    reward_stock_set,
    reward_update,
)
from rewards.services.gifts import GiftResult, gift_grant
from rewards.services.redemptions import (
    RedemptionResult,
    coupon_code_generate,
    points_discount_quote,
    redemption_cancel,
    redemption_create,
    redemption_use,
    redemptions_expire,
)

__all__ = [
    "GiftResult",
    "RedemptionResult",
    "coupon_code_generate",
    "gift_grant",
    "points_discount_quote",
    "redemption_cancel",
    "redemption_create",
    "redemption_use",
    "redemptions_expire",
    "reward_create",
    "reward_delete",
    "reward_stock_adjust",
    "reward_stock_set",
    "reward_update",
]
