"""Monthly cohort rollups (`analytics.models.MonthlyCohort`): who buys, month by month, among the
members of each enrolment month. They feed the cohort retention heat map, the lifetime values by
cohort and by tier, and the before/after-launch comparison (`analytics.selectors.cohorts`).

A month's rows are one grouped query over that month's orders only: by the member's enrolment
month and the tier and paid plan they hold at the end of the month (for the current month, at the
end of today), distinct buyers, orders and revenue. Which months to refresh follows the days the
daily rollups refresh (`analytics.services.refresh`): every month holding one of them. A month's
rows are replaced whole in one transaction, under the rollups' advisory lock.

Invariant: the rows of a month equal a recomputation from the orders and the members
(`tests/analytics/test_cohorts.py`, both engines).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal

from django.db import transaction
from django.db.models import Count, DateField, Sum, Value
from django.db.models.functions import TruncMonth

from analytics.models import MonthlyCohort
from analytics.services.rollups import day_bounds, held_at, rollups_replace_lock
from loyalty.models import Order

ZERO = Decimal("0")


def next_month(month: dt.date) -> dt.date:
    return (month.replace(day=1) + dt.timedelta(days=32)).replace(day=1)


def cohort_month_rows(month: dt.date, *, today: dt.date) -> list[MonthlyCohort]:
    """The month's rows, computed (nothing written)."""
    start, end = day_bounds(month)[0], day_bounds(next_month(month))[0]
    held_on = min(next_month(month) - dt.timedelta(days=1), today)
    rows = (
        Order.objects.filter(placed_at__gte=start, placed_at__lt=end)
        .annotate(
            d=Value(held_on, output_field=DateField()),
            cohort=TruncMonth("member__enrolled_at", output_field=DateField()),
        )
        .annotate(**held_at())
        .values("cohort", "r_tier", "r_plan")
        .annotate(
            buyers=Count("member_id", distinct=True),
            orders=Count("pk"),
            revenue=Sum("eligible_amount", default=ZERO),
        )
        .order_by()
    )
    return [
        MonthlyCohort(
            month=month,
            cohort=row["cohort"],
            tier_id=row["r_tier"],
            plan_id=row["r_plan"],
            buyers=row["buyers"],
            orders=row["orders"],
            revenue=row["revenue"],
        )
        for row in rows
    ]


def cohort_months_refresh(*, days: Iterable[dt.date], today: dt.date) -> int:
    """Recompute and replace the rows of every month holding one of `days`; returns how many
    months were refreshed."""
    months = sorted({day.replace(day=1) for day in days})
    for month in months:
        rows = cohort_month_rows(month, today=today)
        with transaction.atomic():
            rollups_replace_lock()
            MonthlyCohort.objects.filter(month=month).delete()
            MonthlyCohort.objects.bulk_create(rows)
    return len(months)
