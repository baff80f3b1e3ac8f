"""Marketing's writes to campaigns (create, change, switch off), audited; and the read-outs the
admin shows before and after: who a campaign targets, what a multiplier would have cost over the
last 30 days, and what a campaign has done.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.db.models import Count, Exists, OuterRef, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext

from campaigns.holdout import HOLDOUT_MAX_PERCENT
from campaigns.models import Campaign, CampaignAward
from campaigns.selectors import campaign_budget_left, campaign_points_awarded
from campaigns.services.budget import budget_stripes_set
from config.errors import ServiceError
from loyalty.models import Order
from loyalty.selectors.program import program_settings
from members.actors import Actor
from members.models import Member
from members.services import audit_record

# What Marketing sets on a campaign (the admin's form and the configuration file), after `code`.
EDITABLE_FIELDS = (
    "name",
    "description",
    "kind",
    "is_active",
    "starts_at",
    "ends_at",
    "tiers",
    "budget_points",
    "per_member_limit",
    "multiplier",
    "weekdays",
    "day_of_month",
    "categories",
    "action",
    "action_code",
    "points",
    "referee_points",
    "referee_trigger",
    "referrer_points",
    "monthly_referral_limit",
    "holdout_percent",
)
# The fields whose changes the audit trail records (target tiers are set apart).
TRACKED = (*(f for f in EDITABLE_FIELDS if f != "tiers"), "gift_reward_id")


def campaign_validate(campaign: Campaign, *, points_awarded: int | None = None) -> None:
    """Rules a form cannot express alone; raises `ServiceError` naming the field.

    `points_awarded`: what the campaign has awarded so far, if the caller knows it (else read for
    a saved campaign, 0 for a new one).
    """

    def bad(field: str, message: str):
        raise ServiceError("validation_error", message, status=400, field=field)

    if any(not isinstance(d, int) or not 1 <= d <= 7 for d in campaign.weekdays or []):
        bad("weekdays", "Weekdays are ISO numbers 1 (Monday) to 7 (Sunday).")
    if campaign.day_of_month is not None and not 1 <= campaign.day_of_month <= 31:
        bad("day_of_month", "The member day is a day of the month, 1 to 31.")
    if campaign.budget_points is not None:
        if points_awarded is None:
            points_awarded = campaign_points_awarded(campaign=campaign) if campaign.pk else 0
        if campaign.budget_points < points_awarded:
            bad(
                "budget_points",
                f"The campaign has already awarded {points_awarded} points; the budget "
                "cannot be lower.",
            )
    if campaign.kind == Campaign.Kind.MULTIPLIER and campaign.multiplier <= 1:
        bad("multiplier", "A multiplier campaign needs a multiplier above 1.")
    if campaign.kind == Campaign.Kind.ACTION:
        if not campaign.action:
            bad("action", "Choose the action that earns the bonus.")
        if campaign.action == Campaign.Action.CUSTOM and not campaign.action_code:
            bad("action_code", "A custom action needs the code the storefront will send.")
        if campaign.points <= 0 and campaign.gift_reward_id is None:
            bad("points", "An action campaign awards a positive number of points or a gift.")
        _refuse_sentiment_conditions(campaign, bad)
    if campaign.kind == Campaign.Kind.REFERRAL and not (
        campaign.referee_points or campaign.referrer_points or campaign.gift_reward_id
    ):
        bad(
            "referrer_points",
            "A referral campaign gives the referrer or the new member points, or the referrer a "
            "gift.",
        )
    if campaign.kind == Campaign.Kind.MULTIPLIER and campaign.gift_reward_id is not None:
        bad("gift_reward", "A multiplier campaign gives points on orders only: no gift coupon.")
    if campaign.ends_at and campaign.starts_at and campaign.ends_at <= campaign.starts_at:
        bad("ends_at", "The campaign must end after it starts.")
    _check_holdout(campaign, bad)


def _check_holdout(campaign: Campaign, bad) -> None:
    """0–50%: above half, the "control" would be the campaign's main audience. A referral's
    rewards are promised to two people by one of them, so they are never held back."""
    percent = campaign.holdout_percent
    if percent is None or not 0 <= percent <= HOLDOUT_MAX_PERCENT:
        bad("holdout_percent", f"The holdout is a share from 0 to {HOLDOUT_MAX_PERCENT} percent.")
    if percent and campaign.kind == Campaign.Kind.REFERRAL:
        bad(
            "holdout_percent",
            "A referral campaign cannot hold members out: its rewards are promised by one "
            "member to another.",
        )


# Custom action codes that read as "only for good ratings". Rewarding feedback or reviews only
# when they are positive buys fake praise, which consumer-protection rules forbid (e.g. the EU's
# Unfair Commercial Practices Directive, the US FTC's rule on consumer reviews). A guard rail
# against the obvious names, not a proof: feedback itself is rewarded by `action=feedback`,
# which has no condition on the score at all.
_SENTIMENT_CODE = re.compile(
    r"(star|rating|score|nps|csat|promoter|detractor|positive|negative)", re.I
)


def _refuse_sentiment_conditions(campaign: Campaign, bad) -> None:
    if campaign.action == Campaign.Action.FEEDBACK and campaign.action_code:
        bad(
            "action_code",
            "A feedback campaign rewards every piece of feedback alike: it takes no code or "
            "condition on the score.",
        )
    if campaign.action == Campaign.Action.CUSTOM and _SENTIMENT_CODE.search(
        campaign.action_code or ""
    ):
        bad(
            "action_code",
            "A reward may not depend on the rating or sentiment of feedback or a review: use "
            "the feedback action, which rewards every score alike.",
        )


def campaign_save(*, campaign: Campaign, actor: Actor, tiers=None) -> Campaign:
    """Create or change a campaign (with its target tiers), audited field by field.

    A new budget, or a changed one, is spread again over the budget stripes
    (`budget.budget_stripes_set`); what the campaign has awarded is counted again under the
    stripes' locks, so no award can slip between the check and the change.
    """
    campaign_validate(campaign)  # before writing: a clear error, not a constraint violation
    with transaction.atomic():
        before = (
            Campaign.objects.filter(pk=campaign.pk).values(*TRACKED).first()
            if campaign.pk
            else None
        )
        campaign.save()
        if before is None or before["budget_points"] != campaign.budget_points:
            awarded = budget_stripes_set(campaign=campaign)
            campaign_validate(campaign, points_awarded=awarded)
        if tiers is not None:
            campaign.tiers.set(tiers)
        changes = {
            f: ((before or {}).get(f), getattr(campaign, f))
            for f in TRACKED
            if before is None or before.get(f) != getattr(campaign, f)
        }
        audit_record(
            actor=actor,
            action="campaign.create" if before is None else "campaign.change",
            target=campaign,
            changes=changes,
        )
    return campaign


def campaign_delete(*, campaign: Campaign, actor: Actor) -> None:
    """Delete a campaign that never awarded anything (else `campaign_in_use`: switch it off)."""
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
        if campaign.awards.exists() or campaign.referrals.exists():
            raise ServiceError(
                "campaign_in_use",
                gettext("Campaign %(campaign_code)s has awarded points; switch it off instead.")
                % {"campaign_code": campaign.code},
                status=409,
            )
        audit_record(
            actor=actor,
            action="campaign.delete",
            target=campaign,
            changes={"code": (campaign.code, None)},
        )
        campaign.tiers.clear()
        campaign.delete()


@dataclass
class CampaignPreview:
    targeted_members: int
    orders_last_30_days: int
    cost_points_last_30_days: int | None
    cost_money_last_30_days: Decimal | None


def campaign_preview(*, campaign: Campaign, now: dt.datetime | None = None) -> CampaignPreview:
    """Who the campaign targets and, for a multiplier, what it would have cost in 30 days: the
    last 30 days' orders of targeted members, as `order_bonuses` would have rewarded them —
    weekdays, member day, categories, not the members its holdout leaves out, at most
    `per_member_limit` awards each (in order), before any budget cap."""
    from campaigns.holdout import held_out
    from campaigns.services.orders import multiplier_applies, qualifying_base

    now = now or timezone.now()
    tier_ids = list(campaign.tiers.values_list("pk", flat=True)) if campaign.pk else []
    members = Member.objects.filter(status=Member.Status.ACTIVE)
    if tier_ids:
        members = members.filter(_effective_tier_in(tier_ids, today=timezone.localdate(now)))
    targeted = members.count()
    settings = program_settings()
    if campaign.kind != Campaign.Kind.MULTIPLIER:
        return CampaignPreview(targeted, 0, None, None)
    orders = Order.objects.filter(
        placed_at__gt=now - dt.timedelta(days=30), placed_at__lte=now, member__isnull=False
    )
    if tier_ids:
        orders = orders.filter(member__in=members)
    cost = 0
    count = 0
    awards: dict[int, int] = {}  # per member, for the per-member limit
    limit = campaign.per_member_limit
    for order in (
        orders.only(
            "placed_at",
            "items",
            "eligible_amount",
            "exchange_rate",
            "points_base",
            "order_id",
            "member_id",
        )
        .order_by("placed_at", "pk")
        .iterator(chunk_size=2000)
    ):
        if not multiplier_applies(campaign, order):
            continue
        if campaign.pk and held_out(campaign, member_id=order.member_id):
            continue
        if limit is not None and awards.get(order.member_id, 0) >= limit:
            continue
        base = qualifying_base(
            campaign, order, base_points=order.points_base, earn_rate=settings.earn_rate
        )
        bonus = int((base * (campaign.multiplier - 1)) // 1)
        if bonus <= 0:
            continue
        awards[order.member_id] = awards.get(order.member_id, 0) + 1
        cost += bonus
        count += 1
    return CampaignPreview(
        targeted, count, cost, (Decimal(cost) * settings.point_value).quantize(Decimal("0.01"))
    )


def _effective_tier_in(tier_ids: list[int], *, today: dt.date) -> Q:
    """Members whose tier today (an unexpired override wins; no state row: entry tier) is listed."""
    from loyalty.models import Tier

    overridden = Q(tier_state__override_until__gte=today)
    q = (overridden & Q(tier_state__override_tier_id__in=tier_ids)) | (
        ~overridden & Q(tier_state__tier_id__in=tier_ids)
    )
    entry = Tier.objects.filter(rank=0, pk__in=tier_ids).exists()
    return q | Q(tier_state__isnull=True) if entry else q


@dataclass
class CampaignResults:
    points_awarded: int
    members_reached: int
    orders: int
    revenue: Decimal  # attributed: the orders that carried its bonus, each once
    cost: Decimal
    budget_left: int | None
    currency: str
    # Of those orders, the ones another campaign's bonus also touched (stacked), and their
    # revenue: counted once in every total across campaigns (`campaign_report_totals`).
    shared_orders: int = 0
    shared_revenue: Decimal = Decimal("0.00")


def campaign_results(*, campaign: Campaign) -> CampaignResults:
    awards = CampaignAward.objects.filter(campaign=campaign)
    totals = awards.aggregate(points=Sum("points"), members=Count("member", distinct=True))
    order_ids = awards.filter(order__isnull=False).values("order_id")
    stacked = CampaignAward.objects.filter(order_id=OuterRef("pk")).exclude(campaign=campaign)
    orders = Order.objects.filter(pk__in=order_ids).aggregate(
        n=Count("pk"),
        revenue=Sum("eligible_amount"),
        shared=Count("pk", filter=Exists(stacked)),
        shared_revenue=Sum("eligible_amount", filter=Exists(stacked)),
    )
    settings = program_settings()
    points = totals["points"] or 0
    return CampaignResults(
        points_awarded=points,
        members_reached=totals["members"] or 0,
        orders=orders["n"] or 0,
        revenue=(orders["revenue"] or Decimal("0")).quantize(Decimal("0.01")),
        cost=(Decimal(points) * settings.point_value).quantize(Decimal("0.01")),
        budget_left=campaign_budget_left(campaign=campaign),
        currency=settings.currency,
        shared_orders=orders["shared"] or 0,
        shared_revenue=(orders["shared_revenue"] or Decimal("0")).quantize(Decimal("0.01")),
    )
