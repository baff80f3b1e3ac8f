"""The dashboard's figures over a period, read from the daily rollups only.

Every function here reads `DailyRollup` / `DailyTotals` rows (a few per day), never the ledger or
the orders, so its cost grows with the number of days shown. Definitions (`docs/dashboard.md`):

- Period sums (points by kind, new members, orders, revenue) are Σ of the days.
- Buyers are counted per day: a *buyer-day* is a customer buying on a day; the repeat-purchase
  rate of a week or period is repeat buyer-days ÷ buyer-days (a member buying on three days
  counts three times). Daily rows add up; distinct customers over a range would not.
- Balances at a day's end (the liability line) are Σ `net_change` of every day up to it: Σ of
  every posting, i.e. available + pending net of members' debts.
- Members by tier at a day's end are Σ (`tier_joined` − `tier_left`) of every day up to it:
  enrolments into the entry tier plus moves; tier 0 (no tier decided) is the entry tier.
- Active members on a day: members with an order in the 30 days ending with it (`DailyTotals`).
- Weeks start on Monday; the first and last week of a period may be partial; each week shows
  the sums of its days inside the period, and levels (balance, members, active) at its last day
  inside the period.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import F, Sum

from analytics.models import DailyRollup, DailyTotals
from analytics.selectors.period import Period
from loyalty.models import Tier

CENT = Decimal("0.01")
TENTH = Decimal("0.1")
_POINTS = (
    "earned",
    "tier_bonus",
    "campaign_bonus",
    "redeemed",
    "expired",
    "refund_reversed",
    "adjusted",
    "staff_reversed",
    "net_change",
)
_ROLLUP = (*_POINTS, "new_members", "orders", "revenue", "buyers", "repeat_buyers")
_TOTALS = ("guest_orders", "guest_revenue", "guest_buyers", "guest_repeat_buyers")


def ratio(part, whole, places: Decimal = CENT) -> Decimal | None:
    if not whole:
        return None
    return (Decimal(part) / Decimal(whole)).quantize(places, rounding=ROUND_HALF_UP)


def percent(part, whole) -> Decimal | None:
    return None if not whole else ratio(100 * Decimal(part), whole, TENTH)


@dataclass(frozen=True)
class PeriodFigures:
    earned: int = 0
    tier_bonus: int = 0
    campaign_bonus: int = 0
    redeemed: int = 0
    expired: int = 0
    refund_reversed: int = 0
    adjusted: int = 0
    staff_reversed: int = 0
    net_change: int = 0
    new_members: int = 0
    orders: int = 0
    revenue: Decimal = Decimal("0.00")
    buyers: int = 0  # buyer-days
    repeat_buyers: int = 0  # repeat buyer-days
    guest_orders: int = 0
    guest_revenue: Decimal = Decimal("0.00")
    guest_buyers: int = 0
    guest_repeat_buyers: int = 0

    @property
    def issued(self) -> int:
        return self.earned + self.tier_bonus + self.campaign_bonus

    @property
    def repeat_rate(self) -> Decimal | None:
        return percent(self.repeat_buyers, self.buyers)

    @property
    def average_order(self) -> Decimal | None:
        return ratio(self.revenue, self.orders)

    @property
    def guest_average_order(self) -> Decimal | None:
        return ratio(self.guest_revenue, self.guest_orders)

    @property
    def member_revenue_share(self) -> Decimal | None:
        """Members' share of all revenue (members + guests), percent."""
        return percent(self.revenue, self.revenue + self.guest_revenue)


def period_figures(period: Period) -> PeriodFigures:
    """The period's sums: two aggregates (rollups, totals)."""
    days = {"day__gte": period.first, "day__lte": period.last}
    rollup = DailyRollup.objects.filter(**days).aggregate(
        **{name: Sum(name, default=0) for name in _ROLLUP}
    )
    totals = DailyTotals.objects.filter(**days).aggregate(
        **{name: Sum(name, default=0) for name in _TOTALS}
    )
    row = {**rollup, **totals}
    for money in ("revenue", "guest_revenue"):
        row[money] = Decimal(row[money]).quantize(CENT)
    return PeriodFigures(**row)


@dataclass
class Week:
    start: dt.date  # the Monday (may be before the period's first day)
    issued: int = 0
    redeemed: int = 0
    expired: int = 0
    orders: int = 0
    revenue: Decimal = Decimal("0.00")
    guest_revenue: Decimal = Decimal("0.00")
    buyers: int = 0
    repeat_buyers: int = 0
    balance: int = 0  # points held at the week's last day in the period, net of debts
    active: int = 0
    tiers: dict[int, int] = field(default_factory=dict)  # tier id → members at the week's end

    @property
    def repeat_rate(self) -> Decimal | None:
        return percent(self.repeat_buyers, self.buyers)


def _monday(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


def _entry_tier_id() -> int:
    entry = Tier.objects.order_by("rank").values_list("pk", flat=True).first()
    return entry or 0


def weekly_trends(period: Period) -> list[Week]:
    """One row per week the period touches. Four queries: the entry tier, the levels before
    the period (balance, members by tier), the period's rollups by day and tier, its totals."""
    entry = _entry_tier_id()
    before = (
        DailyRollup.objects.filter(day__lt=period.first)
        .values("tier_id")
        .annotate(
            balance=Sum("net_change", default=0),
            members=Sum(F("tier_joined") - F("tier_left"), default=0),
        )
        .order_by()
    )
    balance, members = 0, defaultdict(int)
    for row in before:
        balance += row["balance"]
        members[row["tier_id"] or entry] += row["members"]
    rows = (
        DailyRollup.objects.filter(day__gte=period.first, day__lte=period.last)
        .values("day", "tier_id")
        .annotate(
            issued=Sum(F("earned") + F("tier_bonus") + F("campaign_bonus")),
            redeemed=Sum("redeemed"),
            expired=Sum("expired"),
            net=Sum("net_change"),
            moved=Sum(F("tier_joined") - F("tier_left")),
            orders=Sum("orders"),
            revenue=Sum("revenue"),
            buyers=Sum("buyers"),
            repeat_buyers=Sum("repeat_buyers"),
        )
        .order_by("day")
    )
    by_day: dict[dt.date, list[dict]] = defaultdict(list)
    for row in rows:
        by_day[row["day"]].append(row)
    totals = {
        t["day"]: t
        for t in DailyTotals.objects.filter(day__gte=period.first, day__lte=period.last).values(
            "day", "active_members", "guest_revenue"
        )
    }
    weeks: dict[dt.date, Week] = {}
    day = period.first
    while day <= period.last:
        week = weeks.setdefault(_monday(day), Week(start=_monday(day)))
        for row in by_day.get(day, ()):
            for name in ("issued", "redeemed", "expired", "orders", "buyers", "repeat_buyers"):
                setattr(week, name, getattr(week, name) + row[name])
            week.revenue += row["revenue"]
            balance += row["net"]
            members[row["tier_id"] or entry] += row["moved"]
        total = totals.get(day)
        week.active = total["active_members"] if total else 0
        week.guest_revenue += total["guest_revenue"] if total else 0
        week.balance = balance
        week.tiers = dict(members)
        day += dt.timedelta(days=1)
    for week in weeks.values():
        week.revenue = Decimal(week.revenue).quantize(CENT)
        week.guest_revenue = Decimal(week.guest_revenue).quantize(CENT)
    return list(weeks.values())


@dataclass(frozen=True)
class SegmentLine:
    key: int  # tier id or plan id (0: entry tier / no paid plan)
    new_members: int
    issued: int
    redeemed: int
    orders: int
    revenue: Decimal
    buyers: int  # buyer-days
    repeat_buyers: int

    @property
    def average_order(self) -> Decimal | None:
        return ratio(self.revenue, self.orders)

    @property
    def repeat_rate(self) -> Decimal | None:
        return percent(self.repeat_buyers, self.buyers)


def period_by(period: Period, dimension: str) -> dict[int, SegmentLine]:
    """The period's sums by `tier_id` or `plan_id` (one grouped query)."""
    rows = (
        DailyRollup.objects.filter(day__gte=period.first, day__lte=period.last)
        .values(dimension)
        .annotate(
            new_members=Sum("new_members"),
            issued=Sum(F("earned") + F("tier_bonus") + F("campaign_bonus")),
            redeemed=Sum("redeemed"),
            orders=Sum("orders"),
            revenue=Sum("revenue"),
            buyers=Sum("buyers"),
            repeat_buyers=Sum("repeat_buyers"),
        )
        .order_by(dimension)
    )
    out = {}
    for row in rows:
        key = row.pop(dimension)
        row["revenue"] = Decimal(row["revenue"]).quantize(CENT)
        out[key] = SegmentLine(key=key, **row)
    return out


def breakage(*, last: dt.date, days: int = 365) -> tuple[int, int, Decimal | None]:
    """(points expired, points that reached expiry, breakage rate in percent) over the `days`
    days ending with `last`."""
    window = {"day__gt": last - dt.timedelta(days=days), "day__lte": last}
    expired = DailyRollup.objects.filter(**window).aggregate(e=Sum("expired", default=0))["e"]
    reached = DailyTotals.objects.filter(**window).aggregate(r=Sum("reached_expiry", default=0))[
        "r"
    ]
    return expired, reached, percent(expired, reached)
