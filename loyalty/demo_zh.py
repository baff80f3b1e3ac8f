"""Demo data for `load_demo --locale zh`: a CNY program with a JD-style ladder and order history.

The program: CNY, 1 point per yuan, 100 points = ¥1, members' sentences in Simplified Chinese.
The ladder, as Chinese shops name it: 普通会员 (everyone), 银卡 ¥2,000, 金卡 ¥5,000, 钻石
¥10,000 of spend in a rolling year, each with perks a member feels. Each demo member gets a few
orders over the last year (deterministic amounts), recorded through the order service, so they
hold the tier their spend earns and have points, pending points and history. Idempotent: a
program that already has orders or tiers of its own is left as it is.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.utils import timezone

from loyalty.models import Order, Perk, Tier
from loyalty.selectors.program import program_settings
from loyalty.services.orders import order_record
from loyalty.services.program import program_settings_update
from loyalty.services.tier_config import perk_save, tier_save
from members.actors import Actor
from members.models import Member

PERKS_ZH = [
    {
        "code": "birthday_gift",
        "name": "生日礼",
        "kind": "birthday_gift",
        "value": None,
        "description": "生日当月赠送一份礼物。",
    },
    {
        "code": "free_shipping",
        "name": "免运费",
        "kind": "free_shipping",
        "value": None,
        "description": "每笔订单免标准运费。",
    },
    {
        "code": "early_access",
        "name": "新品抢先购",
        "kind": "early_access",
        "value": None,
        "description": "大促和新品提前 24 小时购买。",
    },
    {
        "code": "members_price",
        "name": "会员专享 95 折",
        "kind": "discount_percent",
        "value": Decimal("5.00"),
        "description": "正价商品享 95 折。",
    },
    {
        "code": "priority_support",
        "name": "专属客服",
        "kind": "priority_support",
        "value": None,
        "description": "专属客服热线，优先接听。",
    },
]

LADDER_ZH = [
    {
        "code": "regular",
        "name": "普通会员",
        "rank": 0,
        "threshold": Decimal("0.00"),
        "multiplier": Decimal("1.00"),
        "perks": ["birthday_gift"],
        "description": "注册即成为会员。",
    },
    {
        "code": "silver",
        "name": "银卡",
        "rank": 1,
        "threshold": Decimal("2000.00"),
        "multiplier": Decimal("1.20"),
        "perks": ["birthday_gift", "free_shipping"],
        "description": "一年内消费满 ¥2,000。",
    },
    {
        "code": "gold",
        "name": "金卡",
        "rank": 2,
        "threshold": Decimal("5000.00"),
        "multiplier": Decimal("1.50"),
        "perks": ["birthday_gift", "free_shipping", "early_access"],
        "description": "一年内消费满 ¥5,000。",
    },
    {
        "code": "diamond",
        "name": "钻石",
        "rank": 3,
        "threshold": Decimal("10000.00"),
        "multiplier": Decimal("2.00"),
        "perks": [
            "birthday_gift",
            "free_shipping",
            "early_access",
            "members_price",
            "priority_support",
        ],
        "description": "一年内消费满 ¥10,000。",
    },
]

# A year's spend per member, in turn (so every tier has members), split over a few orders.
YEARLY_SPEND = [Decimal(x) for x in ("380", "1260", "2450", "3980", "5600", "7300", "11800", "860")]


def program_zh_ensure(*, actor: Actor) -> None:
    if Order.objects.exists():
        return  # a program with orders keeps its currency
    current = program_settings()
    if (current.currency, current.locale) != ("CNY", "zh-hans"):
        program_settings_update(
            actor=actor,
            currency="CNY",
            locale="zh-hans",
            earn_rate=Decimal("1"),
            point_value=Decimal("0.01"),
            reason="演示：人民币积分计划",
        )


def ladder_zh_ensure(*, actor: Actor) -> list[Tier]:
    if Tier.objects.exists():
        return list(Tier.objects.order_by("rank"))
    perks = {p.code: p for p in Perk.objects.all()}
    for spec in PERKS_ZH:
        if spec["code"] not in perks:
            perks[spec["code"]] = perk_save(actor=actor, **spec)
    for spec in LADDER_ZH:
        fields = {k: v for k, v in spec.items() if k != "perks"}
        tier_save(actor=actor, perks=[perks[c] for c in spec["perks"]], **fields)
    return list(Tier.objects.order_by("rank"))


def orders_zh_ensure(*, actor: Actor) -> int:
    """A few orders per demo member (JD-…), placed over the last year; returns how many."""
    now = timezone.now()
    created = 0
    members = Member.objects.filter(external_id__startswith="JD-").order_by("external_id")
    for n, member in enumerate(members):
        spend = YEARLY_SPEND[n % len(YEARLY_SPEND)]
        parts = 2 + n % 4
        for k in range(parts):
            order_id = f"JD-O-{member.external_id[3:]}-{k + 1}"
            if Order.objects.filter(order_id=order_id).exists():
                continue
            days_ago = min(3 + (n * 17 + k * 61) % 330, (now - member.enrolled_at).days)
            total = (spend / parts).quantize(Decimal("0.01")) + Decimal(k * 7 % 10)
            # Never before the member enrolled (such an order is refused without retro credit).
            placed_at = max(
                now - dt.timedelta(days=days_ago, hours=k * 3 + n % 5), member.enrolled_at
            )
            order_record(
                order_id=order_id,
                member=member,
                placed_at=placed_at,
                currency="CNY",
                total=total,
                actor=actor,
                channel="app" if k % 2 else "web",
            )
            created += 1
    return created


def load(*, out) -> None:
    """The loyalty step of the Chinese demo."""
    actor = Actor.system("load_demo")
    program_zh_ensure(actor=actor)
    ladder = ladder_zh_ensure(actor=actor)
    out.write("会员等级: " + "、".join(f"{t.name}（¥{t.threshold:,}）" for t in ladder) + "。")
    created = orders_zh_ensure(actor=actor)
    out.write(f"Demo orders (zh): {created} new.")
