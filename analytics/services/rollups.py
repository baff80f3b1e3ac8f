"""Refreshing the daily rollups (`analytics.models`): runs of days at a time, set-based.

A run of consecutive days (at most 31) is a handful of grouped queries over those days' rows
only (postings by `effective_at`, orders and guest orders by `placed_at`, members by
`enrolled_at`, tier changes by `at`, lots by `expires_at`, feedback by `created_at`), grouped
by local day, so refreshing costs what the days hold, not the ledger. Each member's rows go to
the tier and paid plan they hold at the end of the row's day: the last tier change dated that
day or before (none: the entry tier, `tier_id` 0) and the paid-membership period covering the
day's end (none: `plan_id` 0), found per row by an indexed lookup. Active members are counted
from the distinct member-days of the orders (one statement on PostgreSQL), points reaching
expiry from the lots grouped by day. The run's rows are then replaced in one transaction.

Which days to refresh (`analytics.services.refresh`) is decided from what was written since the
last refresh; `rollups_rebuild` refreshes every day that has anything.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import defaultdict
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import (
    Count,
    DateField,
    Exists,
    ExpressionWrapper,
    IntegerField,
    OuterRef,
    Q,
    Subquery,
    Sum,
)
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from analytics.models import DailyRollup, DailyTotals
from feedback.models import DETRACTOR_MAX, PROMOTER_MIN, Feedback, FeedbackScale
from loyalty.models import GuestOrder, Lot, Order, Posting, TierChange
from loyalty.models.ledger import PostingKind
from members.models import Member
from memberships.models import MembershipPeriod

RETAINED_DAYS = 90  # a buyer is retained when they order again on one of the next 90 days
ACTIVE_DAYS = 30  # a member is active on a day when they ordered in the 30 days ending with it
ZERO = Decimal("0")

# The points columns and the posting kinds they sum; debits are stored negative and shown
# positive, so their sums are negated (`_SIGN`).
_KINDS = {
    "earned": [PostingKind.EARN],
    "tier_bonus": [PostingKind.TIER_BONUS],
    "campaign_bonus": [PostingKind.CAMPAIGN_BONUS],
    "redeemed": [PostingKind.REDEEM, PostingKind.CANCEL_REDEMPTION],
    "expired": [PostingKind.EXPIRE],
    "refund_reversed": [PostingKind.REFUND_REVERSAL],
    "adjusted": [PostingKind.ADJUST],
    "staff_reversed": [PostingKind.REVERSAL],
}
_SIGN = {"redeemed": -1, "expired": -1, "refund_reversed": -1}


def day_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """[start, end) of `day` in the program's time zone."""
    start = timezone.make_aware(dt.datetime.combine(day, dt.time.min))
    end = timezone.make_aware(dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min))
    return start, end


def held_at(member_field: str = "member_id") -> dict:
    """Annotations: the tier (`r_tier`) and paid plan (`r_plan`) the row's member holds at the
    end of the row's day `d` (0 when none): the last tier change dated on or before `d`, and the
    membership period that started on or before `d` and ends after it."""
    tier = (
        TierChange.objects.filter(member_id=OuterRef(member_field))
        .annotate(on=TruncDate("at"))
        .filter(on__lte=OuterRef("d"))
        .order_by("-at", "-id")
        .values("to_tier_id")[:1]
    )
    plan = (
        MembershipPeriod.objects.filter(membership__member_id=OuterRef(member_field))
        .annotate(starts=TruncDate("starts_at"), ends=TruncDate("ends_at"))
        .filter(starts__lte=OuterRef("d"), ends__gt=OuterRef("d"))
        .order_by("-starts_at")
        .values("membership__plan_id")[:1]
    )
    whole = IntegerField()
    return {
        "r_tier": Coalesce(Subquery(tier), 0, output_field=whole),
        "r_plan": Coalesce(Subquery(plan), 0, output_field=whole),
    }


def _in(model, field: str, start, end, member_field: str = "member_id"):
    """`model`'s rows whose `field` falls in [start, end), with their local day `d` and the
    tier and plan their member held at that day's end."""
    rows = model.objects.filter(**{f"{field}__gte": start, f"{field}__lt": end})
    return rows.annotate(d=TruncDate(field)).annotate(**held_at(member_field))


def _points(start, end) -> list[dict]:
    sums = {
        name: Sum("points", filter=Q(kind__in=kinds), default=0) for name, kinds in _KINDS.items()
    }
    rows = (
        _in(Posting, "effective_at", start, end)
        .values("d", "r_tier", "r_plan")
        .annotate(**sums, net_change=Sum("points", default=0))
        .order_by()
    )
    return [{k: v * _SIGN.get(k, 1) if k in _KINDS else v for k, v in r.items()} for r in rows]


def _members(start, end) -> list[dict]:
    rows = (
        _in(Member, "enrolled_at", start, end, "pk")
        .values("d", "r_plan")
        .annotate(new_members=Count("pk"))
        .order_by()
    )
    # Enrolment puts a member in the entry tier (0); their later moves are tier changes.
    return [{**r, "r_tier": 0, "tier_joined": r["new_members"]} for r in rows]


def _tier_moves(start, end) -> list[dict]:
    changes = _in(TierChange, "at", start, end)
    whole = IntegerField()
    joined = (
        changes.annotate(t=Coalesce("to_tier_id", 0, output_field=whole))
        .values("d", "t", "r_plan")
        .annotate(tier_joined=Count("pk"))
        .order_by()
    )
    left = (
        changes.annotate(t=Coalesce("from_tier_id", 0, output_field=whole))
        .values("d", "t", "r_plan")
        .annotate(tier_left=Count("pk"))
        .order_by()
    )
    rows = [{"r_tier": r.pop("t"), **r} for r in joined]
    return rows + [{"r_tier": r.pop("t"), **r} for r in left]


def _feedback(start, end) -> list[dict]:
    """NPS answers by band and CSAT answers with their total, by the day they were submitted
    and the tier and plan the member held at its end."""
    nps, csat = Q(scale=FeedbackScale.NPS), Q(scale=FeedbackScale.CSAT)
    return list(
        _in(Feedback, "created_at", start, end)
        .values("d", "r_tier", "r_plan")
        .annotate(
            nps_promoters=Count("pk", filter=nps & Q(score__gte=PROMOTER_MIN)),
            nps_passives=Count(
                "pk", filter=nps & Q(score__gt=DETRACTOR_MAX, score__lt=PROMOTER_MIN)
            ),
            nps_detractors=Count("pk", filter=nps & Q(score__lte=DETRACTOR_MAX)),
            csat_responses=Count("pk", filter=csat),
            csat_total=Sum("score", filter=csat, default=0),
        )
        .order_by()
    )


def _again_within(model, key: str):
    """Exists: the same customer (`key`) ordered again on one of the `RETAINED_DAYS` days after
    the outer row's day `d` (local days)."""
    horizon = ExpressionWrapper(
        OuterRef("d") + dt.timedelta(days=RETAINED_DAYS), output_field=DateField()
    )
    return Exists(
        model.objects.filter(**{key: OuterRef(key)})
        .annotate(d2=TruncDate("placed_at"))
        .filter(d2__gt=OuterRef("d"), d2__lte=horizon)
    )


def _orders(start, end) -> list[dict]:
    earlier = Order.objects.filter(member_id=OuterRef("member_id")).filter(
        Q(placed_at__lt=OuterRef("placed_at"))
        | Q(placed_at=OuterRef("placed_at"), pk__lt=OuterRef("pk"))
    )
    return list(
        _in(Order, "placed_at", start, end)
        .values("d", "r_tier", "r_plan")
        .annotate(
            orders=Count("pk"),
            revenue=Sum("eligible_amount", default=ZERO),
            buyers=Count("member_id", distinct=True),
            repeat_buyers=Count("member_id", distinct=True, filter=Exists(earlier)),
            retained_90=Count("member_id", distinct=True, filter=_again_within(Order, "member_id")),
        )
        .order_by()
    )


def _guests(start, end) -> dict[dt.date, dict]:
    """Guest orders by day, not yet claimed by a member (a claimed one is the member's). A guest
    is counted by their key; an order without a key is a guest of its own (never a repeat)."""
    keyed = ~Q(guest_key="")
    earlier = GuestOrder.objects.filter(guest_key=OuterRef("guest_key")).filter(
        Q(placed_at__lt=OuterRef("placed_at"))
        | Q(placed_at=OuterRef("placed_at"), pk__lt=OuterRef("pk"))
    )
    rows = (
        GuestOrder.objects.filter(placed_at__gte=start, placed_at__lt=end, member__isnull=True)
        .annotate(d=TruncDate("placed_at"))
        .values("d")
        .annotate(
            guest_orders=Count("pk"),
            guest_revenue=Sum("eligible_amount", default=ZERO),
            guest_buyers=Count("guest_key", distinct=True, filter=keyed)
            + Count("pk", filter=~keyed),
            guest_repeat_buyers=Count("guest_key", distinct=True, filter=keyed & Exists(earlier)),
            guest_retained_90=Count(
                "guest_key",
                distinct=True,
                filter=keyed & _again_within(GuestOrder, "guest_key"),
            ),
        )
        .order_by()
    )
    return {r.pop("d"): r for r in rows}


def active_members(days: list[dt.date]) -> dict[dt.date, int]:
    """Members with an order in the `ACTIVE_DAYS` days ending with each of `days`.

    Each member's distinct order days d₁ < d₂ < … cover [dᵢ, min(dᵢ + 30, dᵢ₊₁)) without
    overlap, so +1 at each start and −1 at each end, summed along the calendar, is the number of
    distinct active members on each day. On PostgreSQL the starts and ends are counted by one
    statement (`_ACTIVE_DELTAS`: the distinct member-days, `lead()` for the next one); elsewhere
    in Python, one pass over the orders of the window.
    """
    if not days:
        return {}
    first, last = min(days) - dt.timedelta(days=ACTIVE_DAYS - 1), max(days)
    start, end = day_bounds(first)[0], day_bounds(last)[1]
    if connection.vendor == "postgresql":
        delta = _active_deltas_sql(start, end)
    else:
        delta = _active_deltas(start, end)
    counts, running, day = {}, 0, first
    wanted = set(days)
    while day <= last:
        running += delta.get(day, 0)
        if day in wanted:
            counts[day] = running
        day += dt.timedelta(days=1)
    return counts


def _active_deltas(start, end) -> dict[dt.date, int]:
    member_days: dict[int, set[dt.date]] = defaultdict(set)
    pairs = Order.objects.filter(placed_at__gte=start, placed_at__lt=end).values_list(
        "member_id", "placed_at"
    )
    for member_id, placed_at in pairs.order_by().iterator(chunk_size=20_000):
        member_days[member_id].add(timezone.localtime(placed_at).date())
    window = dt.timedelta(days=ACTIVE_DAYS)
    delta: dict[dt.date, int] = defaultdict(int)
    for order_days in member_days.values():
        ordered = sorted(order_days)
        for here, after in zip(ordered, [*ordered[1:], None], strict=True):
            delta[here] += 1
            delta[min(here + window, after) if after else here + window] -= 1
    return delta


_ACTIVE_DELTAS = """
    WITH md AS (
        SELECT DISTINCT member_id, (placed_at AT TIME ZONE %(tz)s)::date AS d
        FROM loyalty_order WHERE placed_at >= %(start)s AND placed_at < %(end)s
    ), covers AS (
        SELECT d, LEAST(d + {window}, COALESCE(
            lead(d) OVER (PARTITION BY member_id ORDER BY d), d + {window})) AS e
        FROM md
    )
    SELECT d, count(*) FROM covers GROUP BY d
    UNION ALL
    SELECT e, -count(*) FROM covers GROUP BY e
""".format(window=int(ACTIVE_DAYS))


def _active_deltas_sql(start, end) -> dict[dt.date, int]:
    params = {"tz": timezone.get_current_timezone_name(), "start": start, "end": end}
    delta: dict[dt.date, int] = defaultdict(int)
    with connection.cursor() as cursor:
        cursor.execute(_ACTIVE_DELTAS, params)
        for day, change in cursor.fetchall():
            delta[day] += change
    return delta


def expiry_reached(days: list[dt.date]) -> dict[dt.date, int]:
    """Σ points of the lots whose expiry falls on each of `days` (what reached expiry, spent or
    not): one grouped query over the lots of those days, by local date."""
    if not days:
        return {}
    wanted = set(days)
    start, end = day_bounds(min(days))[0], day_bounds(max(days))[1]
    rows = (
        Lot.objects.filter(expires_at__gte=start, expires_at__lt=end)
        .annotate(d=TruncDate("expires_at"))
        .values_list("d")
        .annotate(points=Sum("points"))
        .order_by()
    )
    return {day: points for day, points in rows if day in wanted}


def rollup_range_rows(first: dt.date, last: dt.date) -> dict[dt.date, list[DailyRollup]]:
    """The `DailyRollup` rows of every day from `first` to `last`, computed (nothing written):
    one grouped query per kind of row for the whole range."""
    start, end = day_bounds(first)[0], day_bounds(last)[1]
    merged: dict[tuple[dt.date, int, int], dict] = defaultdict(dict)
    for rows in (_points(start, end), _members(start, end), _tier_moves(start, end)):
        for row in rows:
            key = (row.pop("d"), row.pop("r_tier"), row.pop("r_plan"))
            for name, value in row.items():
                merged[key][name] = merged[key].get(name, 0) + value
    for row in [*_orders(start, end), *_feedback(start, end)]:
        merged[(row.pop("d"), row.pop("r_tier"), row.pop("r_plan"))].update(row)
    by_day: dict[dt.date, list[DailyRollup]] = defaultdict(list)
    for (day, tier, plan), fields in sorted(merged.items()):
        by_day[day].append(DailyRollup(day=day, tier_id=tier, plan_id=plan, **fields))
    return by_day


def _runs(days: list[dt.date], longest: int = 31) -> list[list[dt.date]]:
    """`days` (sorted) as runs of consecutive days, each at most `longest` long: a run is
    computed with one query per kind of row, and no day outside `days` is computed."""
    runs: list[list[dt.date]] = []
    for day in days:
        if runs and day - runs[-1][-1] == dt.timedelta(days=1) and len(runs[-1]) < longest:
            runs[-1].append(day)
        else:
            runs.append([day])
    return runs


def rollup_days_refresh(*, days: list[dt.date]) -> int:
    """Recompute and replace the rollups of `days` (a run of days per transaction); returns
    how many days were refreshed."""
    days = sorted(set(days))
    for run in _runs(days):
        _run_refresh(run)
    return len(days)


# Two refreshes at once (two daily jobs, or one and an import's listener) would each delete a
# run's rows and insert their own: under READ COMMITTED the second DELETE cannot see the first's
# uncommitted INSERT, and its own INSERT then breaks `rollup_day_unique`. A transaction-scoped
# advisory lock makes the replacements take turns; it blocks no storefront write.
_REPLACE_LOCK = int.from_bytes(
    hashlib.sha256(b"analytics.rollups.replace").digest()[:8], "big", signed=True
)


def rollups_replace_lock() -> None:
    """Inside a transaction: wait for any other rollup replacement to commit."""
    if connection.vendor == "postgresql":  # SQLite: BEGIN IMMEDIATE already serialises writers
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_REPLACE_LOCK])


def _run_refresh(days: list[dt.date]) -> None:
    first, last = days[0], days[-1]
    active = active_members(days)
    reached = expiry_reached(days)
    rollups = rollup_range_rows(first, last)
    guests = _guests(day_bounds(first)[0], day_bounds(last)[1])
    empty = dict.fromkeys(
        ("guest_orders", "guest_buyers", "guest_repeat_buyers", "guest_retained_90"), 0
    )
    with transaction.atomic():
        rollups_replace_lock()
        DailyRollup.objects.filter(day__gte=first, day__lte=last).delete()
        DailyRollup.objects.bulk_create([row for day in days for row in rollups.get(day, ())])
        DailyTotals.objects.filter(day__gte=first, day__lte=last).delete()
        DailyTotals.objects.bulk_create(
            [
                DailyTotals(
                    day=day,
                    active_members=active[day],
                    reached_expiry=reached.get(day, 0),
                    **guests.get(day, {**empty, "guest_revenue": ZERO}),
                )
                for day in days
            ]
        )
