"""Reads of tiers, and the tier rules every path shares (so they cannot disagree).

Rules (see `docs/tiers.md`):
- Qualifying spend = Σ (eligible_amount − refunded_amount) of the member's orders placed in the
  qualification window: `rolling_365` = (as_of − 365 days, as_of]; `calendar_year` = [1 January
  00:00 of as_of's year in the program's time zone, as_of].
- A member qualifies for the highest-ranked tier whose threshold the spend meets or exceeds.
- The hold: a tier is kept at least `tier_hold_days` after the member last qualified for it
  (`MemberTier.qualified_at`: when they reached it, and again every time their spend met its
  threshold since). "Held until" is `qualified_at + tier_hold_days`; the tier is kept through
  that day (program time zone), so the evaluation of day D may downgrade only when
  `qualified_at < start of D − tier_hold_days` (`hold_cutoff`).
- `tier_decision`: up at once when the spend reaches a higher tier; after the hold, down to the
  highest tier the spend still meets, or, when it still meets the tier, qualified again.
- A member without a `MemberTier` row holds the entry tier (rank 0) since enrolment.
- An override holds from when it was set through `override_until` (inclusive) and wins over the
  earned tier meanwhile.

`member_tier_summary` is the transparency block of the member summary API and the admin's
member page: the tier, the progress (window, spend, next tier, what keeps this one and by when,
and one plain explanation) and the perks.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import QuerySet
from django.utils import timezone

from loyalty.models import MemberTier, Order, ProgramSettings, Tier
from loyalty.selectors.program import member_language, program_settings
from loyalty.selectors.tier_explanation import tier_explanation
from loyalty.selectors.tier_metric import SPEND, Metric, ladder_metric, metric_value_and_oldest  # noqa: F401

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
ROLLING_DAYS = 365


UP, DOWN, KEEP = "up", "down", "keep"


# --- time ------------------------------------------------------------------------------------


def start_of_day(day: dt.date) -> dt.datetime:
    """The first instant of `day` in the program's time zone."""
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def evaluation_moment(as_of: dt.date | dt.datetime | None) -> dt.datetime:
    """The instant an evaluation "as of" something looks at.

    A datetime is itself; nothing is now; today's date is now (the daily job passes its date);
    any other date is the end of that day (a backfill, or a test looking ahead).
    """
    if as_of is None:
        return timezone.now()
    if isinstance(as_of, dt.datetime):
        return as_of
    if as_of == timezone.localdate():
        return timezone.now()
    return start_of_day(as_of + dt.timedelta(days=1)) - dt.timedelta(microseconds=1)


@dataclass(frozen=True)
class Window:
    """The qualification window: orders placed in it count towards tiers."""

    start: dt.datetime
    end: dt.datetime
    start_inclusive: bool
    first_day: dt.date  # shown as window_start
    last_day: dt.date  # shown as window_end
    calendar_year: bool

    def orders(self, queryset: QuerySet[Order] | None = None) -> QuerySet[Order]:
        qs = (queryset if queryset is not None else Order.objects.all()).filter(
            placed_at__lte=self.end
        )
        if self.start_inclusive:
            return qs.filter(placed_at__gte=self.start)
        return qs.filter(placed_at__gt=self.start)


def qualification_window(*, as_of: dt.datetime, qualification: str) -> Window:
    if qualification == ProgramSettings.Qualification.CALENDAR_YEAR:
        year = timezone.localtime(as_of).year
        first = dt.date(year, 1, 1)
        return Window(
            start=start_of_day(first),
            end=as_of,
            start_inclusive=True,
            first_day=first,
            last_day=dt.date(year, 12, 31),
            calendar_year=True,
        )
    start = as_of - dt.timedelta(days=ROLLING_DAYS)
    return Window(
        start=start,
        end=as_of,
        start_inclusive=False,
        first_day=timezone.localdate(start),
        last_day=timezone.localdate(as_of),
        calendar_year=False,
    )


def hold_cutoff(*, today: dt.date, hold_days: int) -> dt.datetime:
    """Tiers last qualified for before this instant have been held long enough by `today`."""
    return start_of_day(today) - dt.timedelta(days=hold_days)


def held_until(*, qualified_at: dt.datetime, hold_days: int) -> dt.datetime:
    return qualified_at + dt.timedelta(days=hold_days)


# --- spend and the ladder --------------------------------------------------------------------


def tier_ladder(*, with_perks: bool = False) -> list[Tier]:
    """All tiers, entry tier (rank 0) first."""
    qs = Tier.objects.order_by("rank")
    if with_perks:
        qs = qs.prefetch_related("perks")
    return list(qs)


def tier_for_value(ladder: list[Tier], figure: Decimal | int) -> Tier | None:
    """The highest-ranked tier whose threshold the ladder's figure (`tier_metric`) meets (the
    entry tier at least)."""
    best = None
    for tier in ladder:
        if tier.threshold <= figure and (best is None or tier.rank > best.rank):
            best = tier
    return best or (ladder[0] if ladder else None)


tier_for_spend = tier_for_value


def tier_decision(*, current_rank: int, target_rank: int, hold_expired: bool) -> str | None:
    """What the evaluation does: `up`, `down`, `keep` (qualified again) or nothing."""
    if target_rank > current_rank:
        return UP
    if current_rank > 0 and hold_expired:
        return DOWN if target_rank < current_rank else KEEP
    return None


# --- a member's state ------------------------------------------------------------------------


@dataclass
class MemberTierState:
    earned: Tier
    since: dt.datetime
    qualified_at: dt.datetime | None  # None: the entry tier, nothing to keep
    override: Tier | None  # only while active
    override_until: dt.date | None
    override_at: dt.datetime | None
    override_reason: str
    row: MemberTier | None

    @property
    def effective(self) -> Tier:
        return self.override or self.earned


def member_tier_state(
    *, member, ladder: list[Tier], today: dt.date | None = None
) -> MemberTierState | None:
    """The member's tier state (None when no tier is configured)."""
    if not ladder:
        return None
    today = today or timezone.localdate()
    by_id = {t.pk: t for t in ladder}
    row = MemberTier.objects.filter(member_id=member.pk).first()
    if row is None:
        return MemberTierState(
            earned=ladder[0],
            since=member.enrolled_at,
            qualified_at=None,
            override=None,
            override_until=None,
            override_at=None,
            override_reason="",
            row=None,
        )
    active = row.override_tier_id is not None and row.override_until >= today
    earned = by_id[row.tier_id]
    return MemberTierState(
        earned=earned,
        since=row.since,
        qualified_at=row.qualified_at if earned.rank > 0 else None,
        override=by_id[row.override_tier_id] if active else None,
        override_until=row.override_until if active else None,
        override_at=row.override_at if active else None,
        override_reason=row.override_reason if active else "",
        row=row,
    )


# --- the summary -----------------------------------------------------------------------------


def _money(amount: Decimal) -> str:
    return str(amount.quantize(CENT))


def _iso(moment: dt.datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _figure_valid_until(*, window: Window, oldest: dt.datetime | None) -> dt.date | None:
    """The last day today's spend figure stays true without new orders.

    Calendar year: 31 December. Rolling: the day before the oldest counting order leaves the
    window; None when nothing counts (the figure cannot fall).
    """
    if window.calendar_year:
        return window.last_day
    if oldest is None:
        return None
    return timezone.localdate(oldest + dt.timedelta(days=ROLLING_DAYS)) - dt.timedelta(days=1)


def _amounts(metric: Metric, threshold: Decimal, figure: Decimal | int) -> dict:
    """A threshold and what is missing, in the metric's unit: money strings for spend (the
    contract's `threshold` / `remaining`, as before metrics), whole numbers for counts
    (`threshold_value` / `remaining_value`, the money pair null), so a client always knows the
    unit. The API shows the pair a ladder does not use as null."""
    target = metric.threshold(threshold)
    if metric.money:
        return {"threshold": _money(target), "remaining": _money(max(target - figure, ZERO))}
    return {
        "threshold": None,
        "remaining": None,
        "threshold_value": target,
        "remaining_value": max(target - figure, 0),
    }


def tier_perks(tier: Tier) -> list[dict]:
    """A tier's perks as the storefront reads them, by name (`perks` prefetched: no query)."""
    return [
        {
            "code": perk.code,
            "name": perk.name,
            "kind": perk.kind,
            "value": None if perk.value is None else _money(perk.value),
        }
        for perk in sorted(tier.perks.all(), key=lambda p: (p.name, p.code))
    ]


def tiers_published(*, metric: Metric | None = None) -> list[dict]:
    """The ladder for the storefront's "our tiers" page, entry tier first. Two queries (three
    without `metric`). `threshold` is money for spend ladders, null otherwise;
    `threshold_value` the whole number for ladders that count orders or growth value."""
    metric = metric or ladder_metric(program_settings())
    return [
        {
            "code": tier.code,
            "name": tier.name,
            "rank": tier.rank,
            "threshold": _money(tier.threshold) if metric.money else None,
            "threshold_value": None if metric.money else metric.threshold(tier.threshold),
            "multiplier": _money(tier.multiplier),
            "description": tier.description,
            "perks": tier_perks(tier),
        }
        for tier in tier_ladder(with_perks=True)
    ]


def member_tier_summary(
    member, *, as_of: dt.datetime | None = None, program: ProgramSettings | None = None
) -> dict:
    """The member summary's `tier`, `progress` and `perks` blocks, ready for JSON.

    Money is a string with two decimals, dates are `YYYY-MM-DD`, instants ISO 8601 in UTC. With
    no tier configured: `{"tier": None, "progress": None, "perks": []}`.
    """
    as_of = as_of or timezone.now()
    ladder = tier_ladder(with_perks=True)
    if not ladder:
        return {"tier": None, "progress": None, "perks": []}
    settings = program or program_settings()
    today = timezone.localdate(as_of)
    state = member_tier_state(member=member, ladder=ladder, today=today)
    window = qualification_window(as_of=as_of, qualification=settings.qualification)
    metric = ladder_metric(settings)
    spend, oldest = metric_value_and_oldest(member_id=member.pk, window=window, metric=metric)
    earned, shown = state.earned, state.effective
    hold_days = settings.tier_hold_days

    # When the earned tier is kept until (None for the entry tier, which cannot be lost).
    keep_until = None
    hold_passed = False
    if state.qualified_at is not None:
        qualified_at = state.qualified_at
        if qualified_at < hold_cutoff(today=today, hold_days=hold_days):
            hold_passed = True
            if spend >= earned.threshold:
                # The next daily evaluation qualifies the member again from today.
                qualified_at, hold_passed = as_of, False
        keep_until = held_until(qualified_at=qualified_at, hold_days=hold_days)

    if state.override is not None:
        since = state.override_at or state.since
        shown_until = start_of_day(state.override_until + dt.timedelta(days=1))
    else:
        since, shown_until = state.since, keep_until
    tier_block = {
        "code": shown.code,
        "name": shown.name,
        "since": _iso(since),
        "held_until": _iso(shown_until),
        "multiplier": _money(shown.multiplier),
        "override_until": state.override_until.isoformat() if state.override else None,
    }

    valid_until = _figure_valid_until(window=window, oldest=oldest)
    higher = [t for t in ladder if t.rank > earned.rank]
    next_tier = None
    if higher:
        target = higher[0]
        next_tier = {
            "code": target.code,
            "name": target.name,
            **_amounts(metric, target.threshold, spend),
            "by": valid_until.isoformat() if valid_until else None,
            "perks": tier_perks(target),
        }
    keep_tier = None
    if keep_until is not None:
        remaining = max(metric.threshold(earned.threshold) - spend, ZERO if metric.money else 0)
        keep_day = timezone.localdate(keep_until)
        if hold_passed:
            by = today
        elif remaining and valid_until is not None:
            by = min(keep_day, valid_until)
        else:
            by = keep_day
        keep_tier = {**_amounts(metric, earned.threshold, spend), "by": by.isoformat()}

    progress = {
        "metric": metric.name,
        "currency": settings.currency,
        "window_start": window.first_day.isoformat(),
        "window_end": window.last_day.isoformat(),
        "qualifying_spend": _money(spend) if metric.money else None,
        **({} if metric.money else {"qualifying_value": spend}),
        "next_tier": next_tier,
        "keep_tier": keep_tier,
        "explanation": tier_explanation(
            language=member_language(member, program=settings),
            state=state,
            spend=spend,
            metric=metric,
            currency=settings.currency,
            next_tier=higher[0] if higher else None,
            next_by=valid_until,
            keep_until=keep_until,
            keep_tier=keep_tier,
            hold_passed=hold_passed,
            calendar_year=window.calendar_year,
        ),
    }
    return {"tier": tier_block, "progress": progress, "perks": tier_perks(shown)}
