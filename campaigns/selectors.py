"""Campaign reads: what a campaign has awarded and has left; the program dashboard's figures.

What a campaign has awarded is Σ its awards' points (no counter on the campaign row: an award
without a budget writes no shared row); what a budgeted one has left is its budget − that sum,
which equals Σ its budget stripes' room (`campaign_budgets_audit` checks it;
`campaigns.services.budget`).

The dashboard's reads need the apps above loyalty: campaigns and rewards.

Set-based, one query per function whatever the number of awards, orders or redemptions
(correlated subqueries per campaign or a grouped count per reward). Definitions, also in
`docs/dashboard.md`:

- A campaign is listed for a period when it is switched on and its window overlaps the period,
  or when it awarded points in the period (even if switched off since).
- Its figures count the awards posted in the period, dated like the ledger (`effective_at`: an
  order's bonus by when the order was placed), so they add up to the ledger's campaign bonus.
- Cost = points awarded × point value. Revenue = Σ eligible amount of the distinct orders that
  carried its bonus. Return = revenue ÷ cost (None when the cost is 0). It is attributed revenue,
  not proven extra revenue: those orders might have been placed without the bonus (a campaign's
  measured lift, against its holdout, is `campaigns.results`).
- An order that carried the bonuses of several campaigns (stacked) is in each of their lines,
  so the lines' revenue does not add up: the report's total (`campaign_report_totals`) counts
  every order once.
- Redemptions are dated by when the coupon was issued; points are net of cancelled ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import (
    Count,
    DecimalField,
    Exists,
    F,
    Func,
    IntegerField,
    Max,
    OuterRef,
    Q,
    Subquery,
    Sum,
)
from django.db.models.functions import Coalesce
from django.utils.translation import gettext as _

from campaigns.models import WEEKDAYS, Campaign, CampaignAward, CampaignBudgetStripe
from loyalty.models import Order
from loyalty.selectors.reports import CENT, ReportPeriod, money

try:
    from rewards.models import Redemption, RedemptionStatus
except ImportError:  # the dashboard leaves the rewards section out rather than break
    Redemption = RedemptionStatus = None

_MONEY = DecimalField(max_digits=14, decimal_places=2)


def _aggregate(queryset, function: str, field: str, output_field, *, distinct: bool = False):
    """`function(field)` over the whole (correlated) queryset, as a scalar subquery (0 if none).

    A plain `Func` is no aggregate to the ORM, so it adds no GROUP BY: one row, one value.
    """
    template = "%(function)s(DISTINCT %(expressions)s)" if distinct else None
    extra = {"template": template} if template else {}
    value = Func(F(field), function=function, output_field=output_field, **extra)
    subquery = Subquery(queryset.order_by().annotate(value=value).values("value"))
    return Coalesce(subquery, 0, output_field=output_field)


def campaign_points_awarded(*, campaign: Campaign) -> int:
    """Points the campaign has awarded in all (committed awards)."""
    if hasattr(campaign, "points_awarded"):  # annotated by `campaigns_with_awarded`
        return campaign.points_awarded
    total = CampaignAward.objects.filter(campaign_id=campaign.pk).aggregate(p=Sum("points"))["p"]
    return total or 0


def campaign_budget_left(*, campaign: Campaign) -> int | None:
    """Budget − points awarded; None without a budget."""
    if campaign.budget_points is None:
        return None
    return campaign.budget_points - campaign_points_awarded(campaign=campaign)


def campaigns_budget_left(campaigns: list[Campaign]) -> dict[int, int]:
    """Budget left by campaign id for the budgeted ones among `campaigns`, in one query: Σ their
    stripes' room, which is budget − points awarded (`campaign_budgets_audit`)."""
    ids = [c.pk for c in campaigns if c.budget_points is not None]
    if not ids:
        return {}
    rows = (
        CampaignBudgetStripe.objects.filter(campaign_id__in=ids)
        .values("campaign_id")
        .annotate(left=Sum(F("budget_points") - F("points_awarded")))
        .order_by()
    )
    left = {row["campaign_id"]: row["left"] for row in rows}
    return {pk: left.get(pk, 0) for pk in ids}


def campaigns_with_awarded(queryset=None):
    """Campaigns annotated with `points_awarded` (Σ their awards' points; one query in all)."""
    queryset = Campaign.objects.all() if queryset is None else queryset
    awards = CampaignAward.objects.filter(campaign_id=OuterRef("pk"))
    return queryset.annotate(points_awarded=_aggregate(awards, "SUM", "points", IntegerField()))


def campaign_budgets_audit() -> list[str]:
    """Every budgeted campaign's stripes against its budget and its awards: mismatches, each a
    sentence naming the campaign (empty: all consistent)."""
    stripes = {
        row["campaign_id"]: row
        for row in CampaignBudgetStripe.objects.values("campaign_id")
        .annotate(budget=Sum("budget_points"), awarded=Sum("points_awarded"))
        .order_by()
    }
    out = []
    for campaign in campaigns_with_awarded().order_by("pk"):
        row = stripes.get(campaign.pk)
        if campaign.budget_points is None:
            if row is not None:
                out.append(f"campaign {campaign.code}: budget stripes without a budget")
            continue
        budget, awarded = (row["budget"], row["awarded"]) if row else (0, 0)
        if budget != campaign.budget_points:
            out.append(
                f"campaign {campaign.code}: stripes' budget {budget} != {campaign.budget_points}"
            )
        if awarded != campaign.points_awarded:
            out.append(
                f"campaign {campaign.code}: stripes awarded {awarded} != awards "
                f"{campaign.points_awarded}"
            )
        if campaign.points_awarded > campaign.budget_points:
            out.append(f"campaign {campaign.code}: awarded {campaign.points_awarded} > budget")
    return out


@dataclass(frozen=True)
class CampaignLine:
    campaign: Campaign
    points: int
    members: int
    orders: int
    revenue: Decimal
    cost: Decimal

    @property
    def return_ratio(self) -> Decimal | None:
        """Revenue per 1.00 of cost; None when nothing was spent."""
        if not self.cost:
            return None
        return (self.revenue / self.cost).quantize(CENT, rounding=ROUND_HALF_UP)


def campaign_report(*, period: ReportPeriod, point_value: Decimal) -> list[CampaignLine]:
    """Campaigns live in the period or with awards in it, most points first. One query."""
    in_period = Q(posting__effective_at__gt=period.start, posting__effective_at__lte=period.end)
    awards = CampaignAward.objects.filter(in_period, campaign_id=OuterRef("pk"))
    # Distinct orders: two awards of one campaign may name the same order (a referral's two sides).
    award_orders = CampaignAward.objects.filter(
        in_period, campaign_id=OuterRef(OuterRef("pk"))
    ).values("order_id")
    orders = Order.objects.filter(pk__in=award_orders)
    live = Q(is_active=True, starts_at__lte=period.end) & (
        Q(ends_at__isnull=True) | Q(ends_at__gt=period.start)
    )
    campaigns = (
        Campaign.objects.filter(live | Exists(awards))
        .only("code", "name", "kind", "is_active", "starts_at", "ends_at")
        .annotate(
            period_points=_aggregate(awards, "SUM", "points", IntegerField()),
            period_members=_aggregate(awards, "COUNT", "member_id", IntegerField(), distinct=True),
            period_orders=_aggregate(awards, "COUNT", "order_id", IntegerField(), distinct=True),
            period_revenue=_aggregate(orders, "SUM", "eligible_amount", _MONEY),
        )
        .order_by("-period_points", "code")
    )
    return [
        CampaignLine(
            campaign=c,
            points=c.period_points,
            members=c.period_members,
            orders=c.period_orders,
            revenue=Decimal(c.period_revenue).quantize(CENT),
            cost=money(c.period_points, point_value),
        )
        for c in campaigns
    ]


@dataclass(frozen=True)
class CampaignTotals:
    """Across every campaign in the period, each order once however many campaigns' bonuses it
    carried (stacked campaigns): the lines' revenue and orders do not add up to these."""

    points: int
    members: int
    orders: int
    revenue: Decimal
    cost: Decimal

    @property
    def return_ratio(self) -> Decimal | None:
        if not self.cost:
            return None
        return (self.revenue / self.cost).quantize(CENT, rounding=ROUND_HALF_UP)


def campaign_report_totals(*, period: ReportPeriod, point_value: Decimal) -> CampaignTotals:
    """The campaign report's total row: awards posted in the period, the distinct orders that
    carried any of them, and those orders' revenue counted once. One query: the revenue is an
    uncorrelated subquery over the distinct orders (evaluated once), not a sum over awards."""
    in_period = Q(posting__effective_at__gt=period.start, posting__effective_at__lte=period.end)
    awards = CampaignAward.objects.filter(in_period)
    orders = Order.objects.filter(pk__in=awards.values("order_id"))
    totals = awards.aggregate(
        points=Sum("points", default=0),
        members=Count("member_id", distinct=True),
        orders=Count("order_id", distinct=True),
        revenue=Max(_aggregate(orders, "SUM", "eligible_amount", _MONEY), default=Decimal(0)),
    )
    return CampaignTotals(
        points=totals["points"],
        members=totals["members"],
        orders=totals["orders"],
        revenue=Decimal(totals["revenue"]).quantize(CENT),
        cost=money(totals["points"], point_value),
    )


@dataclass(frozen=True)
class RewardLine:
    code: str
    name: str
    redemptions: int  # coupons issued in the period
    used: int  # of those, used on an order so far
    cancelled: int  # of those, cancelled so far (points given back)
    points: int  # points spent on those not cancelled


def reward_report(*, period: ReportPeriod) -> list[RewardLine] | None:
    """Redemptions issued in the period, by reward, most first; None without the rewards app."""
    if Redemption is None:
        return None
    status = RedemptionStatus
    rows = (
        Redemption.objects.filter(period.q("created_at"))
        .values("reward_id", "reward__code", "reward__name")
        .annotate(
            n=Count("pk"),
            used=Count("pk", filter=Q(status=status.USED)),
            cancelled=Count("pk", filter=Q(status=status.CANCELLED)),
            points=Sum("points_spent", filter=~Q(status=status.CANCELLED), default=0),
        )
        .order_by("-n", "reward__code")
    )
    return [
        RewardLine(
            code=r["reward__code"],
            name=r["reward__name"],
            redemptions=r["n"],
            used=r["used"],
            cancelled=r["cancelled"],
            points=r["points"],
        )
        for r in rows
    ]


# --- stacking: other multipliers that can apply to the same order --------------------------------


@dataclass(frozen=True)
class StackingCampaign:
    campaign: Campaign
    days: str  # when both apply, in words ("Fridays", "every day", "the 15th")


def _day_words(weekdays: set[int], day_of_month: int | None) -> str:
    names = dict(WEEKDAYS)
    days = ", ".join(str(names[d]) for d in sorted(weekdays))
    if days and day_of_month:
        return _("%(weekdays)s on day %(day)s of the month") % {
            "weekdays": days,
            "day": day_of_month,
        }
    if day_of_month:
        return _("day %(day)s of the month") % {"day": day_of_month}
    return days or _("every day")


def multipliers_stacking(
    campaign: Campaign, *, tier_ids: set[int] | None = None
) -> list[StackingCampaign]:
    """The other switched-on multiplier campaigns that can add their bonus to the same order as
    `campaign`: windows overlap, some weekday and member day in common, some tier in common (no
    tiers: everyone), and some category in common (none: the whole order). Bonuses add up: two ×2
    campaigns make ×3 (1 + 1 + 1)."""
    if campaign.kind != Campaign.Kind.MULTIPLIER:
        return []
    others = Campaign.objects.filter(kind=Campaign.Kind.MULTIPLIER, is_active=True)
    if campaign.pk:
        others = others.exclude(pk=campaign.pk)
    if campaign.ends_at:
        others = others.filter(starts_at__lt=campaign.ends_at)
    if campaign.starts_at:
        others = others.filter(Q(ends_at__isnull=True) | Q(ends_at__gt=campaign.starts_at))
    if tier_ids is not None:  # the form's choice, before it is saved
        own_tiers = set(tier_ids)
    else:
        own_tiers = set(campaign.tiers.values_list("pk", flat=True)) if campaign.pk else set()
    found = []
    for other in others.prefetch_related("tiers").order_by("starts_at", "code"):
        tiers = {t.pk for t in other.tiers.all()}
        if own_tiers and tiers and not own_tiers & tiers:
            continue
        mine_c, theirs_c = set(campaign.categories or []), set(other.categories or [])
        if mine_c and theirs_c and not mine_c & theirs_c:
            continue
        mine, theirs = set(campaign.weekdays or []), set(other.weekdays or [])
        weekdays = mine & theirs if mine and theirs else mine or theirs
        if mine and theirs and not weekdays:
            continue
        days = {d for d in (campaign.day_of_month, other.day_of_month) if d}
        if len(days) > 1:
            continue
        found.append(StackingCampaign(other, _day_words(weekdays, next(iter(days), None))))
    return found
