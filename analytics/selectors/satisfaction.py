"""Satisfaction over time by tier and by paid plan, read from the daily rollups.

Each `DailyRollup` row carries the day's feedback answers of the members of one tier and plan
(the tier and plan held at the end of the day the answer was submitted): NPS answers by band and
CSAT answers with their total. Everything here is sums of those, one grouped query per page:

- NPS = % promoters (9–10) − % detractors (0–6) of the NPS answers, one decimal, from −100 to
  +100 (Bain & Company's definition); "—" without answers.
- CSAT average = Σ CSAT scores ÷ CSAT answers (1–5), two places; a separate scale, never mixed
  into the NPS.
- Months are calendar months; the first and last month of the period may be partial (only their
  days inside the period count).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

from django.db.models import Sum
from django.db.models.functions import TruncMonth
from django.utils.translation import gettext

from analytics.models import DailyRollup
from analytics.selectors.period import Period
from analytics.selectors.trends import percent, ratio

_FIELDS = ("nps_promoters", "nps_passives", "nps_detractors", "csat_responses", "csat_total")


@dataclass
class Answers:
    nps_promoters: int = 0
    nps_passives: int = 0
    nps_detractors: int = 0
    csat_responses: int = 0
    csat_total: int = 0

    def add(self, row: dict) -> None:
        for name in _FIELDS:
            setattr(self, name, getattr(self, name) + row[name])

    @property
    def responses(self) -> int:
        """NPS answers."""
        return self.nps_promoters + self.nps_passives + self.nps_detractors

    @property
    def nps(self):
        if not self.responses:
            return None
        return percent(self.nps_promoters - self.nps_detractors, self.responses)

    @property
    def csat(self):
        return ratio(self.csat_total, self.csat_responses)


def months_of(period: Period) -> list[dt.date]:
    """The first day of every calendar month the period touches."""
    month, months = period.first.replace(day=1), []
    while month <= period.last:
        months.append(month)
        month = (month + dt.timedelta(days=32)).replace(day=1)
    return months


def _month(value) -> dt.date:
    return value.date() if isinstance(value, dt.datetime) else value


def _table(months, cells, groups) -> dict:
    """Rows: one per month, then the whole period; columns: the groups, then all members."""
    keys = [key for key, _name in groups]
    rows = []
    for month in months:
        row = [cells[(month, key)] for key in keys]
        everyone = Answers()
        for answers in row:
            everyone.add(vars(answers))
        rows.append({"month": month, "cells": [*row, everyone]})
    total = [Answers() for _ in range(len(keys) + 1)]
    for row in rows:
        for i, answers in enumerate(row["cells"]):
            total[i].add(vars(answers))
    names = [name for _key, name in groups] + [gettext("All members")]
    return {"columns": names, "rows": rows, "total": total}


def satisfaction(period: Period, *, tiers: list, plans: dict) -> dict:
    """NPS and CSAT by month × tier and by month × paid plan (one grouped query).

    `tiers`: the ladder in rank order (tier 0, no tier decided, is the entry tier, the first);
    `plans`: plan id → plan. Plans appear when they had answers; tiers always."""
    rows = (
        DailyRollup.objects.filter(day__gte=period.first, day__lte=period.last)
        .annotate(month=TruncMonth("day"))
        .values("month", "tier_id", "plan_id")
        .annotate(**{name: Sum(name) for name in _FIELDS})
        .order_by()
    )
    entry = tiers[0].pk if tiers else 0
    by_tier: dict = defaultdict(Answers)
    by_plan: dict = defaultdict(Answers)
    answered_plans = set()
    for row in rows:
        month = _month(row["month"])
        by_tier[(month, row["tier_id"] or entry)].add(row)
        by_plan[(month, row["plan_id"])].add(row)
        if (
            row["nps_promoters"] + row["nps_passives"] + row["nps_detractors"]
            or row["csat_responses"]
        ):
            answered_plans.add(row["plan_id"])
    months = months_of(period)
    tier_groups = [(t.pk, t.name) for t in tiers] or [(0, gettext("All tiers"))]
    plan_groups = [(0, gettext("Free (no paid plan)"))] + [
        (pk, plan.name) for pk, plan in sorted(plans.items()) if pk in answered_plans
    ]
    return {
        "by_tier": _table(months, by_tier, tier_groups),
        "by_plan": _table(months, by_plan, plan_groups),
    }
