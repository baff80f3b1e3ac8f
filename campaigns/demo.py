"""Demo campaigns: what a merchant would typically run. Idempotent (by code)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.utils import timezone

from campaigns.models import Campaign
from campaigns.services.manage import campaign_save
from members.actors import Actor

DEMO = [
    {
        "code": "double-fridays",
        "name": "Double points Fridays",
        "kind": "multiplier",
        "multiplier": Decimal("2.00"),
        "weekdays": [5],
    },
    {
        "code": "member-day",
        "name": "Member day (the 15th)",
        "kind": "multiplier",
        "multiplier": Decimal("3.00"),
        "day_of_month": 15,
        "budget_points": 100_000,
    },
    {
        "code": "birthday",
        "name": "Birthday bonus",
        "kind": "action",
        "action": "birthday",
        "points": 200,
    },
    {
        "code": "welcome",
        "name": "Welcome bonus",
        "kind": "action",
        "action": "signup",
        "points": 100,
    },
    {
        "code": "review",
        "name": "Product review",
        "kind": "action",
        "action": "review",
        "points": 50,
        "per_member_limit": 10,
    },
    {
        "code": "refer-a-friend",
        "name": "Give 250, get 500",
        "kind": "referral",
        "referee_points": 250,
        "referee_trigger": "first_order",
        "referrer_points": 500,
        "monthly_referral_limit": 5,
    },
]


def demo_campaigns_ensure() -> int:
    actor = Actor.system("load_demo")
    start = timezone.now() - dt.timedelta(days=365 * 20)
    created = 0
    for spec in DEMO:
        if Campaign.objects.filter(code=spec["code"]).exists():
            continue
        campaign_save(campaign=Campaign(starts_at=start, **spec), actor=actor)
        created += 1
    return created


def load(*, out) -> None:
    """`load_demo` step."""
    created = demo_campaigns_ensure()
    out.write(f"Campaigns: {created} created, {Campaign.objects.count()} in all.")
    from campaigns.activity_demo import demo_activity_ensure

    out.write(demo_activity_ensure())
