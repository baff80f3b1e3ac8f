"""Demo data for `load_demo --locale zh`: campaigns as Chinese shops run them.

会员日 (the 18th of each month, triple points, with a budget), 周五双倍积分, 生日礼, 注册有礼,
晒单评价 and 邀请有礼. Idempotent: campaigns whose code exists are left alone.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.utils import timezone

from campaigns.models import Campaign
from campaigns.services.manage import campaign_save
from members.actors import Actor

CAMPAIGNS_ZH = [
    {
        "code": "member-day-18",
        "name": "会员日：每月 18 日三倍积分",
        "kind": "multiplier",
        "multiplier": Decimal("3.00"),
        "day_of_month": 18,
        "budget_points": 500_000,
    },
    {
        "code": "double-fridays",
        "name": "周五双倍积分",
        "kind": "multiplier",
        "multiplier": Decimal("2.00"),
        "weekdays": [5],
    },
    {
        "code": "birthday",
        "name": "生日礼：赠送 500 积分",
        "kind": "action",
        "action": "birthday",
        "points": 500,
    },
    {
        "code": "welcome",
        "name": "注册有礼：赠送 200 积分",
        "kind": "action",
        "action": "signup",
        "points": 200,
    },
    {
        "code": "review",
        "name": "晒单评价送 50 积分",
        "kind": "action",
        "action": "review",
        "points": 50,
        "per_member_limit": 20,
    },
    {
        "code": "invite",
        "name": "邀请有礼：好友得 300，您得 1,000",
        "kind": "referral",
        "referee_points": 300,
        "referee_trigger": "first_order",
        "referrer_points": 1000,
        "monthly_referral_limit": 10,
    },
]


def load(*, out) -> None:
    actor = Actor.system("load_demo")
    start = timezone.now() - dt.timedelta(days=365 * 2)
    created = 0
    for spec in CAMPAIGNS_ZH:
        if Campaign.objects.filter(code=spec["code"]).exists():
            continue
        campaign_save(campaign=Campaign(starts_at=start, **spec), actor=actor)
        created += 1
    out.write(f"Campaigns (zh): {created} created, {Campaign.objects.count()} in all.")
