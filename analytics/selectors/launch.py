"""Before and after the program: the same customers' buying in equal windows around the launch.

The launch date is a program setting (`ProgramSettings.launched_at`, edited in the admin,
audited). Read from the monthly cohort rollups, in whole calendar months (`docs/dashboard.md`):

- the launch month is left out (it is partly before, partly after);
- W = the complete months after the launch month, at most 12 (a month is complete once it has
  ended and is not after the period's last month); the windows are the W months before the
  launch month and the W months after it;
- the same customers: the members enrolled before the first month of the "before" window
  (imported customers are enrolled at their first order), so all of them were customers during
  both windows; N of them;
- in each window: orders, revenue, buying member-months; frequency = orders ÷ (N × W) per
  customer per month; average order = revenue ÷ orders; buying share = buying member-months ÷
  (N × W); revenue per customer = revenue ÷ N; change = (after − before) ÷ before.

Not a controlled experiment, and the page says so next to the figures. Two aggregates.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Sum
from django.utils import timezone

from analytics.models import DailyRollup, MonthlyCohort
from analytics.selectors.cohorts import month_from_index, month_index
from analytics.selectors.period import Period
from analytics.selectors.trends import CENT, percent, ratio

MAX_WINDOW = 12  # months


@dataclass(frozen=True)
class Window:
    first: dt.date  # the first day of its first month
    last: dt.date  # the first day of its last month
    customers: int
    months: int
    orders: int
    revenue: Decimal
    buying_months: int

    @property
    def frequency(self) -> Decimal | None:
        """Orders per customer per month, two places."""
        return ratio(self.orders, self.customers * self.months)

    @property
    def average_order(self) -> Decimal | None:
        return ratio(self.revenue, self.orders)

    @property
    def buying_share(self) -> Decimal | None:
        return percent(self.buying_months, self.customers * self.months)

    @property
    def revenue_per_customer(self) -> Decimal | None:
        return ratio(self.revenue, self.customers)


FIGURES = ("frequency", "average_order", "buying_share", "revenue_per_customer")


def _raw(window: Window, name: str) -> Decimal | None:
    """A figure before rounding (the change is computed from these); None without a base."""
    base = {
        "frequency": (window.orders, window.customers * window.months),
        "average_order": (window.revenue, window.orders),
        "buying_share": (window.buying_months, window.customers * window.months),
        "revenue_per_customer": (window.revenue, window.customers),
    }[name]
    return Decimal(base[0]) / Decimal(base[1]) if base[1] else None


def _change(after: Window, before: Window, name: str) -> Decimal | None:
    now, then = _raw(after, name), _raw(before, name)
    if now is None or not then:
        return None
    return percent(now - then, then)


def before_after(
    period: Period, *, launched_at: dt.date | None, today: dt.date | None = None
) -> dict:
    """`{"launched_at", "state", ...}`; state is `unset`, `too_early` (no complete month after
    the launch month yet) or `ready` with the two windows and the changes."""
    if launched_at is None:
        return {"launched_at": None, "state": "unset"}
    today = today or timezone.localdate()
    launch = month_index(launched_at.replace(day=1))
    complete_before = min(
        month_index(period.last.replace(day=1)) + 1, month_index(today.replace(day=1))
    )
    width = min(MAX_WINDOW, complete_before - launch - 1)
    if width <= 0:
        return {"launched_at": launched_at, "state": "too_early"}
    start = month_from_index(launch - width)
    customers = DailyRollup.objects.filter(day__lt=start).aggregate(
        n=Sum("new_members", default=0)
    )["n"]
    rows = (
        MonthlyCohort.objects.filter(
            cohort__lt=start, month__gte=start, month__lte=month_from_index(launch + width)
        )
        .exclude(month=month_from_index(launch))
        .values("month")
        .annotate(buyers=Sum("buyers"), orders=Sum("orders"), revenue=Sum("revenue"))
        .order_by()
    )
    sums = {"before": [0, Decimal(0), 0], "after": [0, Decimal(0), 0]}
    for row in rows:
        month = row["month"].date() if isinstance(row["month"], dt.datetime) else row["month"]
        side = sums["before" if month_index(month) < launch else "after"]
        side[0] += row["orders"]
        side[1] += row["revenue"]
        side[2] += row["buyers"]

    def window(side: str, first: int) -> Window:
        orders, revenue, buyers = sums[side]
        return Window(
            first=month_from_index(first),
            last=month_from_index(first + width - 1),
            customers=customers,
            months=width,
            orders=orders,
            revenue=Decimal(revenue).quantize(CENT),
            buying_months=buyers,
        )

    before, after = window("before", launch - width), window("after", launch + 1)
    return {
        "launched_at": launched_at,
        "state": "ready",
        "before": before,
        "after": after,
        "sides": [before, after],
        "changes": {name: _change(after, before, name) for name in FIGURES},
    }
