"""Campaigns on the order path: multiplier bonuses (double-points days, member days, categories)
and first-order awards. Registered with `loyalty.hooks` in `CampaignsConfig.ready()`.

A multiplier's bonus = floor(base of the qualifying amount × (multiplier − 1)); with categories,
only those items' amount (quantity × unit price, capped at the order's eligible amount) counts.
Weekdays and the member day are read on `placed_at` in the program's time zone.
"""

from __future__ import annotations

from decimal import ROUND_FLOOR, Decimal

from django.utils import timezone

from campaigns.models import Campaign, CampaignAward
from campaigns.services.awards import award_grant, award_reserve, campaigns_live, member_targeted
from loyalty.hooks import OrderBonus
from loyalty.models import Order
from loyalty.models.ledger import PostingKind


def _floor(value: Decimal) -> int:
    return int(value.to_integral_value(rounding=ROUND_FLOOR))


def multiplier_applies(campaign: Campaign, order: Order) -> bool:
    local = timezone.localtime(order.placed_at)
    if campaign.weekdays and local.isoweekday() not in campaign.weekdays:
        return False
    return not (campaign.day_of_month and local.day != campaign.day_of_month)


def qualifying_base(campaign: Campaign, order: Order, *, base_points: int, earn_rate) -> int:
    """Base points of the part of the order the campaign covers."""
    if not campaign.categories:
        return base_points
    wanted = set(campaign.categories)
    amount = Decimal("0")
    for item in order.items or []:
        if item.get("category") in wanted:
            amount += Decimal(str(item.get("unit_price", "0"))) * int(item.get("quantity", 0))
    amount = min(amount * order.exchange_rate, order.eligible_amount)
    return max(_floor(amount * earn_rate), 0)


def order_bonuses(*, order, member, base_points, settings, actor) -> list[OrderBonus]:
    """`loyalty.hooks` order bonus provider: one bonus per matching multiplier campaign."""
    bonuses = []
    for campaign in campaigns_live(kind=Campaign.Kind.MULTIPLIER, at=order.placed_at):
        if not multiplier_applies(campaign, order):
            continue
        if not member_targeted(campaign, member_id=member.pk):
            continue
        base = qualifying_base(
            campaign, order, base_points=base_points, earn_rate=settings.earn_rate
        )
        wanted = _floor(base * (campaign.multiplier - 1))
        granted, _reason = award_reserve(
            campaign=campaign,
            member_id=member.pk,
            points=wanted,
            reference=f"order:{order.order_id}",
        )
        if granted:
            bonuses.append(
                OrderBonus(
                    campaign_code=campaign.code,
                    points=granted,
                    description=f"{campaign.name} (×{campaign.multiplier}) on order "
                    f"{order.order_id}",
                )
            )
    return bonuses


def order_recorded(*, order, member, actor) -> None:
    """`loyalty.hooks` listener: record the awards the order's bonuses made; first-order awards."""
    from campaigns.services.referrals import referral_first_order

    by_code = {c.code: c for c in Campaign.objects.filter(kind=Campaign.Kind.MULTIPLIER)}
    postings = order.postings.filter(kind=PostingKind.CAMPAIGN_BONUS)
    CampaignAward.objects.bulk_create(
        [
            CampaignAward(
                campaign=by_code[p.campaign_code],
                member=member,
                posting=p,
                order=order,
                points=p.points,
                reference=f"order:{order.order_id}",
                created_at=p.created_at,
            )
            for p in postings
            if p.campaign_code in by_code
        ]
    )
    if Order.objects.filter(member=member).count() != 1:
        return
    for campaign in campaigns_live(kind=Campaign.Kind.ACTION, at=order.placed_at).filter(
        action=Campaign.Action.FIRST_ORDER
    ):
        if member_targeted(campaign, member_id=member.pk):
            award_grant(
                campaign=campaign,
                member=member,
                points=campaign.points,
                reference="first_order",
                actor=actor,
                description=f"{campaign.name}: first order {order.order_id}",
            )
    referral_first_order(order=order, member=member, actor=actor)
