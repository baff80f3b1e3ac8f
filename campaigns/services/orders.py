"""Campaigns on the order path: multiplier bonuses (double-points days, member days, categories)
and first-order awards. Registered with `loyalty.hooks` in `CampaignsConfig.ready()`.

A multiplier's bonus = floor(base of the qualifying amount × (multiplier − 1)); with categories,
only those items' amount (quantity × unit price, capped at the order's eligible amount) counts.
Weekdays and the member day are read on `placed_at` in the program's time zone.
A member the campaign holds out (`campaigns.holdout`: a hash, no query) gets no bonus; the first
such order writes the `CampaignHoldout` row, later ones one indexed read.
"""

from __future__ import annotations

from decimal import ROUND_FLOOR, Decimal

from django.db import connection
from django.db.models import Q, prefetch_related_objects
from django.utils import timezone

from campaigns.holdout import held_out
from campaigns.models import Campaign, CampaignAward
from campaigns.services.awards import (
    award_grant,
    award_reserve,
    award_segment_code,
    holdout_record,
    member_targeted,
)
from config.prepared import PreparedQuery, hot_cursor, insert_sql
from loyalty.hooks import OrderBonus
from loyalty.models import Order
from loyalty.models.ledger import PostingKind
from loyalty.selectors.order_path import config_cached, config_cached_get


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


# The campaigns an order may meet: active multipliers and first-order awards. Compiled once (see
# `config.prepared`), read afresh for every order; the window is checked here, on `placed_at`,
# exactly as `campaigns_live` does it.
_order_campaigns = PreparedQuery(
    lambda: (
        Campaign.objects.filter(is_active=True)
        .filter(
            Q(kind=Campaign.Kind.MULTIPLIER)
            | Q(kind=Campaign.Kind.ACTION, action=Campaign.Action.FIRST_ORDER)
        )
        .order_by("pk")
    )
)


_NONE_KEY = "campaigns.order_candidates_none"
_CANDIDATES_KEY = "campaigns.order_candidates"


def _order_candidates_read() -> list[Campaign]:
    candidates = _order_campaigns()
    if candidates:
        prefetch_related_objects(candidates, "tiers")
    return candidates


def _order_campaign_candidates(config_version: int | None) -> list[Campaign]:
    """The active multiplier and first-order campaigns, with their target tiers, cached per
    process under the configuration version `order_record` read with the account lock: any
    change to a campaign or its tiers changes it (`campaigns.0007_config_version_all_columns`;
    an award changes neither: budgets are counted in `CampaignBudgetStripe`), so the common case
    costs no query, and a change applies to the very next order. Shared: never modified.
    """
    if config_cached_get(config_version, _NONE_KEY):
        return []
    candidates = config_cached(config_version, _CANDIDATES_KEY, _order_candidates_read)
    if not candidates:
        config_cached(config_version, _NONE_KEY, lambda: True)
    return candidates


def order_bonuses_quiet(config_version: int | None) -> bool:
    """`order_bonuses`' quiet check (`loyalty.hooks`): True when "no multiplier or first-order
    campaign is active" is cached for this configuration version, so no bonus can apply (known
    without a query; the first order after a change finds out and caches it)."""
    return bool(config_cached_get(config_version, _NONE_KEY))


def order_recorded_quiet(config_version: int | None) -> dict | None:
    """`order_recorded`'s quiet check (`loyalty.hooks`): nothing to do for an order of a member
    not referred (`referred_by` never changes after enrolment) when no bonus can apply (no
    multiplier campaign: no awards to record) and no first-order campaign is a candidate (the
    same cached "none")."""
    return {"referred_by_id": None} if order_bonuses_quiet(config_version) else None


def order_campaigns_live(order: Order) -> list[Campaign]:
    """Live multiplier and first-order campaigns at the order's `placed_at`, in key order, with
    their target tiers.

    Both hooks of one `order_record` call share the list (kept on the order object); the
    candidates come from the configuration cache (`_order_campaign_candidates`).
    """
    live = getattr(order, "_campaigns_live", None)
    if live is None:
        at = order.placed_at
        live = [
            c
            for c in _order_campaign_candidates(getattr(order, "_config_version", None))
            if c.starts_at <= at and (c.ends_at is None or c.ends_at > at)
        ]
        order._campaigns_live = live
    return live


def order_bonuses(*, order, member, base_points, settings, actor) -> list[OrderBonus]:
    """`loyalty.hooks` order bonus provider: one bonus per matching multiplier campaign."""
    bonuses = []
    for campaign in order_campaigns_live(order):
        if campaign.kind != Campaign.Kind.MULTIPLIER:
            continue
        if not multiplier_applies(campaign, order):
            continue
        if not member_targeted(campaign, member_id=member.pk):
            continue
        base = qualifying_base(
            campaign, order, base_points=base_points, earn_rate=settings.earn_rate
        )
        wanted = _floor(base * (campaign.multiplier - 1))
        if wanted > 0 and held_out(campaign, member_id=member.pk):
            # No bonus and no budget; the award log says so once per member (a read after that).
            holdout_record(
                campaign=campaign,
                member_id=member.pk,
                reference=f"order:{order.order_id}",
                points=wanted,
                now=timezone.now(),
            )
            continue
        granted, _reason = award_reserve(
            campaign=campaign,
            member_id=member.pk,
            points=wanted,
            reference=f"order:{order.order_id}",
            # `order_record` calls the providers only for an order it has just inserted, and
            # order ids are unique: no award can name this order yet.
            reference_new=True,
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


def _awards_insert(awards: list[CampaignAward]) -> None:
    """INSERT the order's awards: `bulk_create`'s rows, its SQL compiled once per row count
    (`config.prepared.insert_sql`); the hot path of an order with campaign bonuses."""
    if not awards:
        return
    sql, params = insert_sql(CampaignAward, awards, connection=connection)
    with hot_cursor(connection) as cursor:
        cursor.execute(sql, params)


def order_recorded(*, order, member, actor) -> None:
    """`loyalty.hooks` listener: record the awards the order's bonuses made; first-order awards.

    Costs nothing more when nothing applies: the awards are looked for only if the order carried
    campaign bonuses (`points_campaign`), and "is this the first order?" is asked only if a
    first-order campaign is live or the member was referred (a `Referral` exists only for a member
    enrolled with a referrer, and `referred_by` never changes after enrolment).
    """
    from campaigns.services.referrals import referral_first_order

    if order.points_campaign:
        # The campaigns that gave the bonuses are among the order's live ones.
        by_code = {
            c.code: c for c in order_campaigns_live(order) if c.kind == Campaign.Kind.MULTIPLIER
        }
        # The order path hands over the bonus postings it has just written (`loyalty.hooks`);
        # read them only if it did not.
        postings = getattr(order, "campaign_postings", None)
        if postings is None:
            postings = order.postings.filter(kind=PostingKind.CAMPAIGN_BONUS)
        _awards_insert(
            [
                CampaignAward(
                    campaign_id=by_code[p.campaign_code].pk,
                    member_id=member.pk,
                    posting_id=p.pk,
                    order_id=order.pk,
                    points=p.points,
                    reference=f"order:{order.order_id}",
                    segment_code=award_segment_code(by_code[p.campaign_code]),
                    created_at=p.created_at,
                )
                for p in postings
                if p.campaign_code in by_code
            ]
        )
    first_order_campaigns = [
        c for c in order_campaigns_live(order) if c.kind == Campaign.Kind.ACTION
    ]
    if not first_order_campaigns and member.referred_by_id is None:
        return
    if Order.objects.filter(member_id=member.pk).exclude(pk=order.pk).exists():
        return  # not the member's first order
    for campaign in first_order_campaigns:
        if member_targeted(campaign, member_id=member.pk):
            award_grant(
                campaign=campaign,
                member=member,
                points=campaign.points,
                reference="first_order",
                actor=actor,
                description=f"{campaign.name}: first order {order.order_id}",
            )
    if member.referred_by_id is not None:
        referral_first_order(order=order, member=member, actor=actor)
