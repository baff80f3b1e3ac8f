"""Which days' rollups to refresh, and the entry points that do it.

`rollups_refresh` (the daily job's step, and what an import runs when it completes) refreshes the
days touched since the last refresh: rows are found by id above the watermarks in `RollupState`,
so a back-dated import refreshes the past days it wrote to, and nothing else. A row may change
days other than its own, and those are refreshed too:

- a posting: its day, and for a credit whose expiry has passed, its expiry day (`reached_expiry`);
- an order: its day; the days of the member's later orders (whether they are repeat purchases)
  and of their orders in the 90 days before (whether those buyers were retained); the next 29
  days (the member is active on them);
- a member: their enrolment day; a tier change: its day and every day after it (the member's
  rows go to the tier they hold at each day's end); a guest order: its day and the days of the
  same guest's later orders and orders of the 90 days before; a feedback answer: the day it
  was submitted;
- always, the days from the last refresh to today: lots reach their expiry date by time alone.

The monthly cohort rows (`analytics.services.cohorts`) of every month holding a refreshed day are
refreshed with them.

`rollups_rebuild` drops everything and refreshes every day those rules name when every row is
new (days with nothing on them and no member active have no rows; readers count them as 0).
Watermarks are read before the days are computed, so a row written meanwhile is refreshed next
time rather than missed. Two refreshes at once recompute the same days; each run of days is
replaced in one transaction holding an advisory lock (`rollups_replace_lock`), so they take turns
and the result is the same.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.db import transaction
from django.db.models import Max, Min
from django.db.models.functions import TruncDate
from django.utils import timezone

from analytics.models import DailyRollup, DailyTotals, MonthlyCohort, RollupState
from analytics.services.cohorts import cohort_months_refresh
from analytics.services.liability import liability_snapshot_take
from analytics.services.rollups import (
    ACTIVE_DAYS,
    RETAINED_DAYS,
    rollup_days_refresh,
    rollups_replace_lock,
)
from feedback.models import Feedback
from loyalty.models import GuestOrder, Order, Posting, TierChange
from members.models import Member

log = logging.getLogger(__name__)
_RETAINED = dt.timedelta(days=RETAINED_DAYS + 1)  # a local day more: time zones

_SOURCES = {
    "posting_id": Posting,
    "order_id": Order,
    "member_id": Member,
    "tier_change_id": TierChange,
    "guest_order_id": GuestOrder,
    "feedback_id": Feedback,
}


def _state() -> RollupState:
    state = RollupState.objects.filter(pk=1).first()
    return state or RollupState(pk=1)


def _dates(queryset, field: str) -> set[dt.date]:
    return set(
        queryset.annotate(d=TruncDate(field)).values_list("d", flat=True).distinct().order_by()
    )


def _span(first: dt.date, last: dt.date) -> set[dt.date]:
    return {first + dt.timedelta(days=n) for n in range((last - first).days + 1)}


def touched_days(state: RollupState, marks: dict[str, int], today: dt.date) -> set[dt.date]:
    """The days whose rollups the rows above the old watermarks (up to `marks`) change."""

    def new(model, mark: str):
        return model.objects.filter(pk__gt=getattr(state, mark), pk__lte=marks[mark])

    now = timezone.now()
    days = _dates(new(Posting, "posting_id"), "effective_at")
    days |= _dates(new(Posting, "posting_id").filter(expires_at__lte=now), "expires_at")
    orders = new(Order, "order_id")
    for day in _dates(orders, "placed_at"):
        days |= _span(day, min(day + dt.timedelta(days=ACTIVE_DAYS - 1), today))
    later = Order.objects.filter(member_id__in=orders.values("member_id"))
    first_new = orders.aggregate(m=Min("placed_at"))["m"]
    if first_new is not None:  # later orders (repeat?), and those of the 90 days before (retained?)
        days |= _dates(later.filter(placed_at__gt=first_new - _RETAINED), "placed_at")
    days |= _dates(new(Member, "member_id"), "enrolled_at")
    first_change = new(TierChange, "tier_change_id").aggregate(m=Min("at"))["m"]
    if first_change is not None:
        days |= _span(timezone.localtime(first_change).date(), today)
    guests = new(GuestOrder, "guest_order_id")
    days |= _dates(guests, "placed_at")
    first_guest = guests.aggregate(m=Min("placed_at"))["m"]
    if first_guest is not None:
        keys = guests.exclude(guest_key="").values("guest_key")  # no key: no later orders
        same_key = GuestOrder.objects.filter(guest_key__in=keys)
        days |= _dates(same_key.filter(placed_at__gt=first_guest - _RETAINED), "placed_at")
    days |= _dates(new(Feedback, "feedback_id"), "created_at")
    if state.refreshed_at is not None:
        days |= _span(timezone.localtime(state.refreshed_at).date(), today)
    return {day for day in days if day <= today}


def _marks() -> dict[str, int]:
    return {
        mark: model.objects.aggregate(m=Max("pk"))["m"] or 0 for mark, model in _SOURCES.items()
    }


def _save(state: RollupState, marks: dict[str, int], now: dt.datetime) -> None:
    with transaction.atomic():
        rollups_replace_lock()  # a twin refresh may be inserting the single row right now
        for mark, value in marks.items():
            setattr(state, mark, value)
        state.refreshed_at = now
        state.save()


def rollups_refresh(*, now: dt.datetime | None = None) -> int:
    """Refresh the days touched since the last refresh; the first time, rebuild. Returns how
    many days were refreshed."""
    now = now or timezone.now()
    state = _state()
    if state.refreshed_at is None:
        return rollups_rebuild(now=now)
    marks = _marks()
    today = timezone.localtime(now).date()
    days = touched_days(state, marks, today)
    refreshed = rollup_days_refresh(days=sorted(days))
    cohort_months_refresh(days=days, today=today)
    _save(state, marks, now)
    log.info("rollups refreshed: %s days", refreshed)
    return refreshed


def rollups_rebuild(*, now: dt.datetime | None = None) -> int:
    """Drop every rollup and refresh every day something happened on (or that it changes: the
    same rules as an incremental refresh, from no watermark at all)."""
    now = now or timezone.now()
    state = _state()
    marks = _marks()
    today = timezone.localtime(now).date()
    days = touched_days(RollupState(), marks, today)
    with transaction.atomic():
        DailyRollup.objects.all().delete()
        DailyTotals.objects.all().delete()
        MonthlyCohort.objects.all().delete()
    refreshed = rollup_days_refresh(days=sorted(days))
    cohort_months_refresh(days=days, today=today)
    _save(state, marks, now)
    liability_snapshot_take(now=now)
    log.info("rollups rebuilt: %s days", refreshed)
    return refreshed


def rollups_daily_step(*, as_of: dt.date, cutoff: dt.datetime, actor) -> int:
    """The daily jobs' step (`loyalty.hooks.daily_job_steps`): refresh what changed, and take
    today's liability snapshot."""
    refreshed = rollups_refresh()
    liability_snapshot_take()
    return refreshed


def rollups_import_listener(*, run) -> None:
    """A historical import completed: refresh the days it wrote to (and whatever else changed).
    Before the rollups were ever built there is nothing to keep fresh: the first daily job (or
    `rollups_rebuild`) builds them, imported history included."""
    if _state().refreshed_at is not None:
        rollups_refresh()
