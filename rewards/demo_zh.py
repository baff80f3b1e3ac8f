"""Demo data for `load_demo --locale zh`: a reward catalogue in Chinese, priced in CNY.

At the Chinese demo's point value (100 points = ¥1), as the English demo does in pounds: coupons
that give back about what their points are worth, a free product with stock, one reward for
金卡 and above, and paying with points. Idempotent: rewards whose code exists are left alone.
"""

from __future__ import annotations

from decimal import Decimal

from loyalty.models import Tier
from members.actors import Actor
from rewards.models import Reward
from rewards.services import reward_create

REWARDS_ZH = [
    {
        "code": "CNY5_OFF",
        "name": "¥5 无门槛优惠券",
        "description": "下单立减 ¥5。",
        "kind": "fixed_discount",
        "points_cost": 500,
        "value": Decimal("5.00"),
        "coupon_valid_days": 30,
    },
    {
        "code": "FREE_SHIPPING",
        "name": "免运费券",
        "description": "任意一笔订单免标准运费。",
        "kind": "free_shipping",
        "points_cost": 300,
        "value": None,
        "coupon_valid_days": 30,
    },
    {
        "code": "NINETY_PERCENT",
        "name": "9 折优惠券",
        "description": "单笔订单享 9 折。",
        "kind": "percent_discount",
        "points_cost": 1000,
        "value": Decimal("10.00"),
        "per_member_limit": 2,
        "coupon_valid_days": 15,
    },
    {
        "code": "MUG",
        "name": "定制马克杯",
        "description": "下次订单随单赠送一只定制马克杯。",
        "kind": "free_product",
        "sku": "MUG-001",
        "points_cost": 1500,
        "value": Decimal("39.00"),
        "stock": 200,
        "per_member_limit": 1,
        "coupon_valid_days": 60,
    },
    {
        "code": "GOLD_CNY50_OFF",
        "name": "金卡专享 ¥50 优惠券",
        "description": "金卡及以上会员：立减 ¥50。",
        "kind": "fixed_discount",
        "points_cost": 4500,
        "value": Decimal("50.00"),
        "min_tier": "gold",
        "coupon_valid_days": 30,
    },
    {
        "code": "POINTS_DISCOUNT",
        "name": "积分抵现",
        "description": "积分当钱花：100 积分抵 ¥1，最多抵订单金额的一半。",
        "kind": "points_discount",
        "points_cost": 0,
        "value": None,
        "min_points": 100,
        "min_share": Decimal("0.00"),
        "max_share": Decimal("0.50"),
        "coupon_valid_days": 1,
    },
]


def load(*, out) -> None:
    actor = Actor.system("load_demo")
    existing = set(Reward.objects.values_list("code", flat=True))
    tiers = {t.code: t for t in Tier.objects.all()}
    created = 0
    for spec in REWARDS_ZH:
        if spec["code"] in existing:
            continue
        fields = dict(spec)
        tier_code = fields.pop("min_tier", None)
        if tier_code is not None:
            if tier_code not in tiers:
                continue
            fields["min_tier"] = tiers[tier_code]
        reward_create(actor=actor, **fields)
        created += 1
    out.write(f"Rewards (zh): {created} created, {Reward.objects.count()} in the catalogue.")
