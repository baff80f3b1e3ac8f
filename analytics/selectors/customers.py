"""Members against guests, and paid members against free ones, from the daily rollups.

Three groups over the period: paid members (a paid plan at the end of the day), free members,
and guests (customers without a membership, counted by their guest key). All figures are sums
of days, so they cost what the days cost:

- buyer-days: a customer buying on a day (a customer buying on three days counts three times);
- revenue per buyer-day = revenue ÷ buyer-days; frequency = orders ÷ buyer-days (orders per
  shopping day); average order = revenue ÷ orders;
- repeat-purchase rate = repeat buyer-days ÷ buyer-days (the customer had bought before);
- uplift of members over guests = (member − guest) ÷ guest, for each of those, in percent
  ("—" when the guests' figure is 0 or missing);
- 90-day retention = of the buyer-days in the 90 days ending 90 days before the period's last
  day (so that every one has had its 90 days), the share whose customer ordered again on one of
  the 90 days after (`retained_90` ÷ `buyers`); its own window, not the period's.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Sum

from analytics.models import DailyRollup, DailyTotals
from analytics.selectors.period import Period
from analytics.selectors.trends import CENT, PeriodFigures, percent, period_by, ratio


@dataclass(frozen=True)
class CustomerGroup:
    key: str  # "paid", "free", "members", "guests"
    orders: int
    revenue: Decimal
    buyers: int  # buyer-days
    repeat_buyers: int

    @property
    def revenue_per_buyer(self) -> Decimal | None:
        return ratio(self.revenue, self.buyers)

    @property
    def frequency(self) -> Decimal | None:
        return ratio(self.orders, self.buyers)

    @property
    def average_order(self) -> Decimal | None:
        return ratio(self.revenue, self.orders)

    @property
    def repeat_rate(self) -> Decimal | None:
        return percent(self.repeat_buyers, self.buyers)


FIGURES = ("revenue_per_buyer", "frequency", "average_order", "repeat_rate")


def uplift(member, guest) -> Decimal | None:
    """(member − guest) ÷ guest, in percent to one decimal; None without a guest figure."""
    if member is None or not guest:
        return None
    return percent(Decimal(member) - Decimal(guest), Decimal(guest))


def customer_groups(period: Period, figures: PeriodFigures) -> dict:
    """Paid, free, all members and guests over the period, and the members' uplift over guests
    (one grouped query on top of the period's figures)."""
    by_plan = period_by(period, "plan_id")
    free = by_plan.get(0)
    paid = [line for key, line in by_plan.items() if key != 0]

    def group(key, lines) -> CustomerGroup:
        return CustomerGroup(
            key=key,
            orders=sum(line.orders for line in lines),
            revenue=sum((line.revenue for line in lines), Decimal("0")).quantize(CENT),
            buyers=sum(line.buyers for line in lines),
            repeat_buyers=sum(line.repeat_buyers for line in lines),
        )

    members = CustomerGroup(
        "members", figures.orders, figures.revenue, figures.buyers, figures.repeat_buyers
    )
    guests = CustomerGroup(
        "guests",
        figures.guest_orders,
        figures.guest_revenue,
        figures.guest_buyers,
        figures.guest_repeat_buyers,
    )
    groups = [group("paid", paid), group("free", [free] if free else []), members, guests]
    return {
        "groups": groups,
        "uplift": {name: uplift(getattr(members, name), getattr(guests, name)) for name in FIGURES},
    }


def retention_window(period: Period) -> Period:
    """The buyer-days whose 90 days have all passed by the period's last day."""
    return Period(period.last - dt.timedelta(days=179), period.last - dt.timedelta(days=90))


def retention_90(period: Period) -> dict:
    """90-day retention of paid, free, all members and guests (two aggregates)."""
    window = retention_window(period)
    days = {"day__gte": window.first, "day__lte": window.last}
    by_plan = (
        DailyRollup.objects.filter(**days)
        .values("plan_id")
        .annotate(retained=Sum("retained_90"), buyers=Sum("buyers"))
        .order_by()
    )
    sums = {"paid": [0, 0], "free": [0, 0], "members": [0, 0]}
    for row in by_plan:
        for key in ("paid" if row["plan_id"] else "free", "members"):
            sums[key][0] += row["retained"]
            sums[key][1] += row["buyers"]
    guests = DailyTotals.objects.filter(**days).aggregate(
        retained=Sum("guest_retained_90", default=0), buyers=Sum("guest_buyers", default=0)
    )
    sums["guests"] = [guests["retained"], guests["buyers"]]
    return {
        "window": window,
        "rates": {key: percent(retained, buyers) for key, (retained, buyers) in sums.items()},
    }
