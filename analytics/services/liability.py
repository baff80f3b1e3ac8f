"""The liability aged by expiry: a snapshot of the open lots, taken once a day.

A lot's `remaining` changes as points are spent, so yesterday's ageing cannot be recomputed
today: the daily step (and a rebuild) stores today's in `LiabilitySnapshot`, replacing the one
taken earlier the same day. Buckets, by how long until what is left of each lot expires
(measured from `taken_at`): pending (not yet spendable, whatever its expiry), ≤ 30 days,
31–90, 91–180, 181–365, later, never (no expiry). One aggregate over the open lots.
"""

from __future__ import annotations

import datetime as dt

from django.db.models import Q, Sum
from django.utils import timezone

from analytics.models import LiabilitySnapshot
from loyalty.models import Debt, Lot

BUCKETS = (("within_30", 30), ("within_90", 90), ("within_180", 180), ("within_365", 365))


def liability_ageing(*, now: dt.datetime) -> dict[str, int]:
    """Points held now, by bucket (the fields of `LiabilitySnapshot`)."""
    matured = Q(matured=True, expires_at__isnull=False)
    sums = {"pending": Sum("remaining", filter=Q(matured=False), default=0)}
    lower = None
    for name, days in BUCKETS:
        upper = now + dt.timedelta(days=days)
        window = matured & Q(expires_at__lte=upper)
        if lower is not None:
            window &= Q(expires_at__gt=lower)
        sums[name] = Sum("remaining", filter=window, default=0)
        lower = upper
    sums["later"] = Sum("remaining", filter=matured & Q(expires_at__gt=lower), default=0)
    sums["never"] = Sum("remaining", filter=Q(matured=True, expires_at__isnull=True), default=0)
    ageing = Lot.objects.filter(remaining__gt=0).aggregate(**sums)
    ageing["debt"] = Debt.objects.filter(remaining__gt=0).aggregate(d=Sum("remaining", default=0))[
        "d"
    ]
    return ageing


def liability_snapshot_take(*, now: dt.datetime | None = None) -> LiabilitySnapshot:
    """Store today's ageing (replacing today's earlier snapshot)."""
    now = now or timezone.now()
    snapshot, _ = LiabilitySnapshot.objects.update_or_create(
        day=timezone.localtime(now).date(),
        defaults={"taken_at": now, **liability_ageing(now=now)},
    )
    return snapshot
