"""Demo data of the rewards app that the demo loader calls (`manage.py load_demo`).

`demo_rewards_ensure()` creates a small, sensible catalogue through the services and is
idempotent: a reward whose code exists is left exactly as it is (staff may have tuned it).
Priced at the default point value (1 point = £0.01), so "£5 off for 500 points" gives back 1p a
point, the usual rate; the free product and the Gold-only reward show stock and tier limits.
"""

from __future__ import annotations

from decimal import Decimal

from loyalty.models import Tier
from members.actors import Actor
from rewards.models import Reward
from rewards.services import reward_create

DEMO_REWARDS = [
    {
        "code": "FIVE_OFF",
        "name": "£5 off",
        "description": "£5 off your next order.",
        "kind": "fixed_discount",
        "points_cost": 500,
        "value": Decimal("5.00"),
        "coupon_valid_days": 90,
    },
    {
        "code": "FREE_SHIPPING",
        "name": "Free shipping",
        "description": "Free standard shipping on one order.",
        "kind": "free_shipping",
        "points_cost": 300,
        "value": None,
        "coupon_valid_days": 60,
    },
    {
        "code": "TEN_PERCENT_OFF",
        "name": "10% off",
        "description": "10% off one order.",
        "kind": "percent_discount",
        "points_cost": 1000,
        "value": Decimal("10.00"),
        "per_member_limit": 2,
        "coupon_valid_days": 30,
    },
    {
        "code": "TOTE_BAG",
        "name": "Free tote bag",
        "description": "Our canvas tote, added to your next order.",
        "kind": "free_product",
        "sku": "TOTE-001",
        "points_cost": 1500,
        "value": Decimal("15.00"),
        "stock": 100,
        "per_member_limit": 1,
        "coupon_valid_days": 90,
    },
    {
        "code": "GOLD_TWENTY_OFF",
        "name": "£20 off for Gold members",
        "description": "Gold and above: £20 off an order.",
        "kind": "fixed_discount",
        "points_cost": 1800,
        "value": Decimal("20.00"),
        "min_tier": "gold",
        "coupon_valid_days": 60,
    },
    {
        "code": "POINTS_DISCOUNT",
        "name": "Pay with points",
        "description": "Use your points as money off an order: 100 points = £1, up to half of it.",
        "kind": "points_discount",
        "points_cost": 0,
        "value": None,
        "min_points": 100,
        "min_share": Decimal("0.00"),
        "max_share": Decimal("0.50"),
        "coupon_valid_days": 1,
    },
]


def demo_rewards_ensure(*, actor: Actor | None = None) -> list[Reward]:
    """Create the demo rewards whose code is missing; return the whole catalogue."""
    actor = actor or Actor.system("demo")
    existing = set(Reward.objects.values_list("code", flat=True))
    tiers = {t.code: t for t in Tier.objects.all()}
    for spec in DEMO_REWARDS:
        if spec["code"] in existing:
            continue
        fields = dict(spec)
        tier_code = fields.pop("min_tier", None)
        if tier_code is not None:
            if tier_code not in tiers:
                continue  # no such tier in this program: a tier-only reward makes no sense
            fields["min_tier"] = tiers[tier_code]
        reward_create(actor=actor, **fields)
    return list(Reward.objects.order_by("points_cost", "code"))


def load(*, out) -> None:
    before = Reward.objects.count()
    rewards = demo_rewards_ensure(actor=Actor.system("load_demo"))
    out.write(f"Rewards: {len(rewards) - before} created, {len(rewards)} in the catalogue.")
