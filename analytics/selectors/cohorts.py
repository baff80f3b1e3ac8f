"""Cohort retention and customer lifetime value, from the monthly cohort rollups.

A *cohort* is the members who enrolled in one calendar month (imported customers are enrolled at
their first order, so their history counts from there). Read (`docs/dashboard.md`):

- cohort size N = members enrolled in the month (Σ `new_members` of its days);
- month k of a cohort = the k-th calendar month after its enrolment month (0: that month);
  retention in month k = members of the cohort who ordered in it ÷ N;
- a month is *complete* once it has ended (before today's month) and is not after the period's
  last month; the heat map shows months up to the period's last month, the current one partial.

Lifetime value, for a cohort (or all cohorts pooled) and for a tier:

- historic value = revenue to date ÷ N (cohorts only: a member's revenue goes to the tier they
  held at the end of the month they bought in, so a tier has revenue per member-month instead);
- average order = revenue ÷ orders; f = orders ÷ buying member-months (orders in a month in which
  the member buys);
- r = monthly retention: buying member-months ÷ member-months over the complete months (a cohort:
  its months 1 and later; a tier: every month, members counted in the tier at the month's end);
- expected buying months L = 1 ÷ (1 − r) (each month a member buys again with probability r and
  stops for good the first month they do not: a geometric lifetime), at most 120;
- **predicted value = average order × f × L**.

Four grouped queries over the rollups, whatever the number of members or orders.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import DateField, F, Sum
from django.db.models.functions import TruncMonth
from django.utils import timezone

from analytics.models import DailyRollup, MonthlyCohort
from analytics.selectors.period import Period
from analytics.selectors.trends import CENT, percent, ratio

COHORTS_SHOWN = 12  # the heat map's rows: the enrolment months of the year to the period's end
MONTHS_SHOWN = 12  # its columns: months 0..12 after enrolment
MAX_LIFETIME = Decimal(120)  # months


def month_index(month: dt.date) -> int:
    return month.year * 12 + month.month - 1


def month_from_index(index: int) -> dt.date:
    return dt.date(index // 12, index % 12 + 1, 1)


def _month(value) -> dt.date:
    return value.date() if isinstance(value, dt.datetime) else value


@dataclass
class Value:
    """The lifetime-value figures of a group (a cohort, all cohorts, a tier)."""

    members: int = 0  # N (a tier: members at the end of the last month)
    orders: int = 0
    revenue: Decimal = Decimal("0")
    buying_months: int = 0  # member-months with an order (all months)
    retained: int = 0  # buying member-months over the complete months counted by r
    member_months: int = 0  # member-months over those months

    @property
    def historic(self) -> Decimal | None:
        return ratio(self.revenue, self.members)

    @property
    def average_order(self) -> Decimal | None:
        return ratio(self.revenue, self.orders)

    @property
    def frequency(self) -> Decimal | None:
        return ratio(self.orders, self.buying_months)

    @property
    def retention(self) -> Decimal | None:
        """r in percent, one decimal."""
        return percent(self.retained, self.member_months)

    @property
    def lifetime(self) -> Decimal | None:
        """L = 1 ÷ (1 − r) months, one decimal, at most `MAX_LIFETIME`."""
        if not self.member_months:
            return None
        lost = Decimal(self.member_months - self.retained)
        if lost <= 0:
            return MAX_LIFETIME
        months = Decimal(self.member_months) / lost
        return min(months, MAX_LIFETIME).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)

    @property
    def predicted(self) -> Decimal | None:
        if self.lifetime is None or not self.orders:
            return None
        value = (self.revenue / self.buying_months) * self.lifetime  # AOV × f = revenue per month
        return value.quantize(CENT, rounding=ROUND_HALF_UP)

    @property
    def revenue_per_member_month(self) -> Decimal | None:
        return ratio(self.revenue, self.member_months)


@dataclass
class Cohort:
    month: dt.date
    value: Value
    cells: list[dict] = field(default_factory=list)  # k, buyers, share (%), shade 0–10


def _sizes(last: dt.date) -> dict[dt.date, int]:
    rows = (
        DailyRollup.objects.filter(day__lte=last, new_members__gt=0)
        .annotate(m=TruncMonth("day", output_field=DateField()))
        .values("m")
        .annotate(n=Sum("new_members"))
        .order_by()
    )
    return {_month(r["m"]): r["n"] for r in rows}


def _shade(share: Decimal | None) -> int:
    return 0 if share is None else min(10, int(share // 10))


def cohorts(period: Period, *, today: dt.date | None = None) -> dict:
    """The heat map's rows (the last `COHORTS_SHOWN` enrolment months up to the period's last
    month) and every cohort pooled ("all")."""
    today = today or timezone.localdate()
    last = month_index(period.last.replace(day=1))
    complete_before = min(last + 1, month_index(today.replace(day=1)))
    sizes = _sizes(period.last)
    rows = (
        MonthlyCohort.objects.filter(month__lte=month_from_index(last))
        .values("cohort", "month")
        .annotate(buyers=Sum("buyers"), orders=Sum("orders"), revenue=Sum("revenue"))
        .order_by()
    )
    found: dict[dt.date, dict[int, dict]] = defaultdict(dict)
    for row in rows:
        found[_month(row["cohort"])][month_index(_month(row["month"]))] = row
    pooled = Value()
    shown = []
    for cohort in sorted(set(sizes) | set(found)):
        start = month_index(cohort)
        value = Value(members=sizes.get(cohort, 0))
        for index, row in found.get(cohort, {}).items():
            value.orders += row["orders"]
            value.revenue += row["revenue"]
            value.buying_months += row["buyers"]
            if start < index < complete_before:
                value.retained += row["buyers"]
        value.member_months = value.members * max(0, complete_before - start - 1)
        value.revenue = Decimal(value.revenue).quantize(CENT)
        for name in ("members", "orders", "revenue", "buying_months", "retained", "member_months"):
            setattr(pooled, name, getattr(pooled, name) + getattr(value, name))
        if start > last - COHORTS_SHOWN:
            cells = []
            for k in range(min(MONTHS_SHOWN, last - start) + 1):
                buyers = found.get(cohort, {}).get(start + k, {}).get("buyers", 0)
                share = percent(buyers, value.members)
                cells.append({"k": k, "buyers": buyers, "share": share, "shade": _shade(share)})
            shown.append(Cohort(month=cohort, value=value, cells=cells))
    return {"rows": shown, "all": pooled, "columns": list(range(MONTHS_SHOWN + 1))}


def tier_values(period: Period, *, tiers: list, today: dt.date | None = None) -> list:
    """(tier, `Value`) for each tier of the ladder (tier 0: the entry tier), up to the period's
    last month; two grouped queries."""
    today = today or timezone.localdate()
    last = month_index(period.last.replace(day=1))
    complete_before = min(last + 1, month_index(today.replace(day=1)))
    entry = tiers[0].pk if tiers else 0
    moves = (
        DailyRollup.objects.filter(day__lte=period.last)
        .annotate(m=TruncMonth("day", output_field=DateField()))
        .values("m", "tier_id")
        .annotate(moved=Sum(F("tier_joined") - F("tier_left")))
        .order_by("m")
    )
    moved: dict[int, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for row in moves:
        moved[month_index(_month(row["m"]))][row["tier_id"] or entry] += row["moved"]
    values: dict[int, Value] = defaultdict(Value)
    bought = (
        MonthlyCohort.objects.filter(month__lte=month_from_index(last))
        .values("month", "tier_id")
        .annotate(buyers=Sum("buyers"), orders=Sum("orders"), revenue=Sum("revenue"))
        .order_by()
    )
    buyers: dict[tuple[int, int], int] = defaultdict(int)
    for row in bought:
        tier, index = row["tier_id"] or entry, month_index(_month(row["month"]))
        value = values[tier]
        value.orders += row["orders"]
        value.revenue += row["revenue"]
        value.buying_months += row["buyers"]
        buyers[(index, tier)] += row["buyers"]
    stock: dict[int, int] = defaultdict(int)
    for index in range(min(moved, default=last + 1), last + 1):
        for tier, n in moved.get(index, {}).items():
            stock[tier] += n
        for tier, n in stock.items():
            if index < complete_before:
                values[tier].member_months += n
                values[tier].retained += buyers.get((index, tier), 0)
    for tier, n in stock.items():
        values[tier].members = n
    keys = [t.pk for t in tiers] or [0]
    out = []
    for key, tier in zip(keys, tiers or [None], strict=True):
        value = values.get(key, Value())
        value.revenue = Decimal(value.revenue).quantize(CENT)
        out.append((tier, value))
    return out
