"""A campaign's measured lift: treated members against its holdout (`campaigns.holdout`).

Definitions (also in `docs/campaigns.md`, "Results: lift against the holdout"):

- **Window**: from the campaign's start to its end (now, if it has not ended), and, as a second
  window, to N days after its end (`days_after`, default `CAMPAIGN_RESULTS_DAYS_AFTER` = 14),
  never past now. Orders count by `placed_at`.
- **Population** (intention to treat): every member enrolled before the campaign's window ends
  and, for a campaign with tiers, holding one of them today (the tier at each order is not kept
  for this; a caveat on the page). Each is in the holdout or treated by the hash alone, so the
  two groups differ only by chance and by the campaign — whether or not they ordered, which is
  why members with no order count, with 0.
- **Per member**: revenue = Σ (eligible amount − refunded amount) of their orders in the window
  (net of refunds, program currency); orders = how many.
- **Incremental revenue per member** = treated mean − holdout mean, with Welch's 95% t-interval
  (`campaigns.stats`); **incremental revenue** = that × treated members (the revenue the
  campaign added across the members it treated), interval scaled alike.
- **Cost** = points the campaign awarded (all its awards) × the program's point value;
  **incremental ROI** = incremental revenue ÷ cost (interval ÷ cost too; None at cost 0).

Cost: two queries (the population's ids; orders grouped by member over the window), then one
pass over the ids to hash them (about a second per million members): fine for a staff page
opened on demand, not for a dashboard listing every campaign.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings as django_settings
from django.db.models import Count, F, Sum
from django.utils import timezone

from campaigns.holdout import held_out
from campaigns.models import Campaign
from campaigns.stats import Interval, Sample, welch_interval
from loyalty.models import Order
from loyalty.selectors.program import program_settings
from loyalty.selectors.reports import CENT
from members.models import Member

DAYS_AFTER_DEFAULT = 14
DAYS_AFTER_MAX = 365


def days_after_default() -> int:
    return getattr(django_settings, "CAMPAIGN_RESULTS_DAYS_AFTER", DAYS_AFTER_DEFAULT)


@dataclass(frozen=True)
class Arm:
    members: int
    buyers: int
    revenue: Decimal
    orders: int
    revenue_sample: Sample
    orders_sample: Sample

    @property
    def revenue_per_member(self) -> Decimal | None:
        return (self.revenue / self.members).quantize(CENT) if self.members else None

    @property
    def orders_per_member(self) -> Decimal | None:
        if not self.members:
            return None
        return (Decimal(self.orders) / self.members).quantize(Decimal("0.001"))


@dataclass(frozen=True)
class Lift:
    start: dt.datetime
    end: dt.datetime
    treated: Arm
    holdout: Arm
    revenue_per_member: Interval | None  # treated − holdout, per member
    orders_per_member: Interval | None
    cost: Decimal

    @property
    def incremental_revenue(self) -> tuple[Decimal, Decimal, Decimal] | None:
        """(estimate, low, high) over the treated members, to the cent."""
        if self.revenue_per_member is None:
            return None
        n = self.treated.members
        i = self.revenue_per_member
        return tuple((v * n).quantize(CENT) for v in (i.difference, i.low, i.high))

    @property
    def incremental_roi(self) -> tuple[Decimal, Decimal, Decimal] | None:
        """Incremental revenue ÷ cost (estimate, low, high), two places; None at cost 0."""
        revenue = self.incremental_revenue
        if revenue is None or not self.cost:
            return None
        return tuple((v / self.cost).quantize(CENT) for v in revenue)


def campaign_population(campaign: Campaign, *, until: dt.datetime):
    """The members the campaign could have treated (intention to treat): ids."""
    from campaigns.services.manage import _effective_tier_in

    members = Member.objects.filter(enrolled_at__lt=until)
    tier_ids = [t.pk for t in campaign.tiers.all()]
    if tier_ids:
        members = members.filter(_effective_tier_in(tier_ids, today=timezone.localdate()))
    return members.values_list("pk", flat=True)


def _arm(ids: list[int], per_member: dict[int, tuple[Decimal, int]]) -> Arm:
    revenue, squares, orders, order_squares, buyers = Decimal(0), Decimal(0), 0, 0, 0
    for pk in ids:
        found = per_member.get(pk)
        if found is None:
            continue
        amount, count = found
        buyers += 1
        revenue += amount
        squares += amount * amount
        orders += count
        order_squares += count * count
    n = len(ids)
    return Arm(
        members=n,
        buyers=buyers,
        revenue=revenue,
        orders=orders,
        revenue_sample=Sample.from_sums(n, revenue, squares),
        orders_sample=Sample.from_sums(n, Decimal(orders), Decimal(order_squares)),
    )


def campaign_lift(
    *, campaign: Campaign, start: dt.datetime, end: dt.datetime, cost: Decimal
) -> Lift:
    """Treated against holdout over [start, end)."""
    rows = (
        Order.objects.filter(placed_at__gte=start, placed_at__lt=end, member__isnull=False)
        .values("member_id")
        .annotate(revenue=Sum(F("eligible_amount") - F("refunded_amount")), orders=Count("pk"))
        .order_by()
    )
    per_member = {r["member_id"]: (r["revenue"], r["orders"]) for r in rows}
    treated, holdout = [], []
    for pk in campaign_population(campaign, until=min(campaign.ends_at or end, end)).iterator(
        chunk_size=10_000
    ):
        (holdout if held_out(campaign, member_id=pk) else treated).append(pk)
    t, h = _arm(treated, per_member), _arm(holdout, per_member)
    return Lift(
        start=start,
        end=end,
        treated=t,
        holdout=h,
        revenue_per_member=welch_interval(t.revenue_sample, h.revenue_sample),
        orders_per_member=welch_interval(t.orders_sample, h.orders_sample),
        cost=cost,
    )


@dataclass(frozen=True)
class LiftReport:
    measured: bool  # False: no holdout, the campaign's figures are attributed only
    days_after: int
    during: Lift | None
    after: Lift | None  # campaign window + days_after; None while the campaign runs
    currency: str


def campaign_lift_report(
    *, campaign: Campaign, points_awarded: int, days_after: int | None = None, now=None
) -> LiftReport:
    """Both windows' lift, or `measured=False` for a campaign without a holdout."""
    now = now or timezone.now()
    settings = program_settings()
    days_after = days_after_default() if days_after is None else days_after
    if not campaign.holdout_percent:
        return LiftReport(False, days_after, None, None, settings.currency)
    cost = (Decimal(points_awarded) * settings.point_value).quantize(CENT)
    start = campaign.starts_at
    end = min(campaign.ends_at or now, now)
    during = campaign_lift(campaign=campaign, start=start, end=end, cost=cost)
    after = None
    if campaign.ends_at and campaign.ends_at <= now and days_after:
        after_end = min(campaign.ends_at + dt.timedelta(days=days_after), now)
        after = campaign_lift(campaign=campaign, start=start, end=after_end, cost=cost)
    return LiftReport(True, days_after, during, after, settings.currency)
