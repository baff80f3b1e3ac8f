"""The program's figures for Marketing's dashboard: members, points, liability, orders.

Every function is a read made of set-based aggregate queries: one or two statements each, however
many members, orders or postings there are (the dashboard's query count is fixed; a test holds it).
Definitions, also in `docs/dashboard.md`:

- The period is the last N days up to now, `(now − N days, now]`, N in `PERIOD_DAYS`.
- Things are dated by when they happened, not when they were written down: a posting by its
  `effective_at` (an order's points by when the order was placed, an expiry by when the lot
  expired, a refund's reversal by when it was refunded), an order by `placed_at`, a member by
  `enrolled_at`. An import of old orders therefore lands in the past, not in today's figures.
- Members by tier counts members not erased, in the tier they hold today: an unexpired override
  (`override_until` ≥ today) wins over the earned tier; no `MemberTier` row means the entry tier.
- Outstanding points are the accounts' cached balances (available + pending, kept equal to the
  postings by `audit_ledger`). The liability counts only members whose balance is positive: a
  member in debt (a refund of points already spent) owes points and does not lower what the
  program owes everyone else; those debts are shown on their own.
- Money is `points × point_value`, 2 places, half up.
- Points by week (the dashboard's chart): issued (earned + tier bonus + campaign bonus) and
  redeemed (spent − given back on cancelled redemptions) per week starting Monday, in the
  program's time zone; every week of the period is listed, empty ones as 0. Their sums are the
  period's `issued` and `redeemed` when the period starts on a Monday.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Case, Count, Exists, F, OuterRef, Q, Sum, When
from django.db.models.functions import TruncWeek
from django.db.models.lookups import GreaterThan, LessThan
from django.utils import timezone

from loyalty.models import Account, Order, Posting, Tier
from loyalty.models.ledger import PostingKind
from members.models import Member

PERIOD_DAYS = (7, 30, 90, 365)
DEFAULT_DAYS = 30
CENT = Decimal("0.01")
TENTH = Decimal("0.1")


def money(points: int, point_value: Decimal) -> Decimal:
    """What `points` are worth at `point_value`, to the cent."""
    return (Decimal(points) * point_value).quantize(CENT, rounding=ROUND_HALF_UP)


def percent(part: int, whole: int) -> Decimal | None:
    """`part` as a percentage of `whole`, one decimal; None when there is no whole."""
    if not whole:
        return None
    return (Decimal(100 * part) / Decimal(whole)).quantize(TENTH, rounding=ROUND_HALF_UP)


# --- the period ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportPeriod:
    """The last `days` days up to `end`: `(start, end]`."""

    days: int
    start: dt.datetime
    end: dt.datetime

    def q(self, field: str) -> Q:
        """`field` falls in the period."""
        return Q(**{f"{field}__gt": self.start, f"{field}__lte": self.end})

    @property
    def today(self) -> dt.date:
        return timezone.localdate(self.end)


def report_period(*, days: int = DEFAULT_DAYS, now: dt.datetime | None = None) -> ReportPeriod:
    if days not in PERIOD_DAYS:
        raise ValueError(f"days must be one of {PERIOD_DAYS}")
    end = now or timezone.now()
    return ReportPeriod(days=days, start=end - dt.timedelta(days=days), end=end)


# --- members ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class MemberCounts:
    active: int
    suspended: int
    erased: int
    new: int  # enrolled in the period, whatever their status now

    @property
    def members(self) -> int:
        """Members not erased: the ones tiers are counted over."""
        return self.active + self.suspended


def member_counts(*, period: ReportPeriod) -> MemberCounts:
    status = Member.Status
    row = Member.objects.aggregate(
        active=Count("pk", filter=Q(status=status.ACTIVE)),
        suspended=Count("pk", filter=Q(status=status.SUSPENDED)),
        erased=Count("pk", filter=Q(status=status.ERASED)),
        new=Count("pk", filter=period.q("enrolled_at")),
    )
    return MemberCounts(**row)


@dataclass(frozen=True)
class TierCount:
    tier: Tier | None  # None: members counted while no tier is configured
    members: int
    share: Decimal | None  # percent of all members counted


def members_by_tier(*, today: dt.date | None = None) -> list[TierCount]:
    """Members not erased by the tier they hold on `today`, entry tier first (every tier listed).

    Two queries: the ladder, and one grouped count over members left-joined to their tier state.
    """
    today = today or timezone.localdate()
    ladder = list(Tier.objects.order_by("rank"))
    effective = Case(
        # An override is complete or absent (a database constraint), so its date says it all.
        When(tier_state__override_until__gte=today, then=F("tier_state__override_tier_id")),
        default=F("tier_state__tier_id"),
    )
    counts = dict(
        Member.objects.exclude(status=Member.Status.ERASED)
        .annotate(effective_tier_id=effective)
        .values("effective_tier_id")
        .annotate(n=Count("pk"))
        .order_by()
        .values_list("effective_tier_id", "n")
    )
    total = sum(counts.values())
    if not ladder:
        return [TierCount(tier=None, members=total, share=percent(total, total))] if total else []
    # No tier state row: the entry tier.
    counts[ladder[0].pk] = counts.get(ladder[0].pk, 0) + counts.pop(None, 0)
    rows = []
    for tier in ladder:
        members = counts.get(tier.pk, 0)
        rows.append(TierCount(tier=tier, members=members, share=percent(members, total)))
    return rows


# --- points ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PointsFlows:
    """Points that moved in the period, by kind; every figure ≥ 0 unless it says net."""

    earned: int  # base points on orders
    tier_bonus: int
    campaign_bonus: int
    redeemed_gross: int  # spent on rewards
    redemptions_cancelled: int  # given back when a redemption was cancelled
    expired: int
    refund_reversed: int  # taken back because an order was refunded
    adjusted_added: int
    adjusted_removed: int
    staff_reversals: int  # net: reversals of postings by a supervisor (either sign)
    net_change: int  # Σ of every posting in the period

    @property
    def issued(self) -> int:
        return self.earned + self.tier_bonus + self.campaign_bonus

    @property
    def redeemed(self) -> int:
        return self.redeemed_gross - self.redemptions_cancelled

    @property
    def adjusted(self) -> int:
        """Net adjustments (negative when more was removed than added)."""
        return self.adjusted_added - self.adjusted_removed


def points_flows(*, period: ReportPeriod) -> PointsFlows:
    """One aggregate over the period's postings (dated by `effective_at`)."""
    kind = PostingKind

    def total(condition: Q) -> Sum:
        return Sum("points", filter=condition, default=0)

    row = Posting.objects.filter(period.q("effective_at")).aggregate(
        earned=total(Q(kind=kind.EARN)),
        tier_bonus=total(Q(kind=kind.TIER_BONUS)),
        campaign_bonus=total(Q(kind=kind.CAMPAIGN_BONUS)),
        redeemed=total(Q(kind=kind.REDEEM)),
        cancelled=total(Q(kind=kind.CANCEL_REDEMPTION)),
        expired=total(Q(kind=kind.EXPIRE)),
        refund_reversed=total(Q(kind=kind.REFUND_REVERSAL)),
        adjusted_added=total(Q(kind=kind.ADJUST, points__gt=0)),
        adjusted_removed=total(Q(kind=kind.ADJUST, points__lt=0)),
        staff_reversals=total(Q(kind=kind.REVERSAL)),
        net_change=Sum("points", default=0),
    )
    # Debits are stored negative; the report shows how many points left, as positive numbers.
    return PointsFlows(
        earned=row["earned"],
        tier_bonus=row["tier_bonus"],
        campaign_bonus=row["campaign_bonus"],
        redeemed_gross=-row["redeemed"],
        redemptions_cancelled=row["cancelled"],
        expired=-row["expired"],
        refund_reversed=-row["refund_reversed"],
        adjusted_added=row["adjusted_added"],
        adjusted_removed=-row["adjusted_removed"],
        staff_reversals=row["staff_reversals"],
        net_change=row["net_change"],
    )


@dataclass(frozen=True)
class Outstanding:
    """Points members hold now, and what the program owes for them."""

    available: int  # Σ cached available balances (net of debts)
    pending: int  # Σ pending (not yet spendable) points
    liability_points: int  # Σ positive balances (available + pending) per member
    debt_points: int  # Σ negative balances per member, as a positive number
    members_with_points: int
    liability: Decimal  # liability_points at the point value


def points_outstanding(*, point_value: Decimal) -> Outstanding:
    """One aggregate over the accounts (one row per member who ever had points)."""
    balance = F("available") + F("pending")
    row = Account.objects.aggregate(
        # Named apart from the fields: an aggregate's name would shadow the column in `balance`.
        total_available=Sum("available", default=0),
        total_pending=Sum("pending", default=0),
        positive=Sum(balance, filter=GreaterThan(balance, 0), default=0),
        negative=Sum(balance, filter=LessThan(balance, 0), default=0),
        members=Count("pk", filter=GreaterThan(balance, 0)),
    )
    return Outstanding(
        available=row["total_available"],
        pending=row["total_pending"],
        liability_points=row["positive"],
        debt_points=-row["negative"],
        members_with_points=row["members"],
        liability=money(row["positive"], point_value),
    )


# --- orders ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class OrderFigures:
    orders: int
    revenue: Decimal  # Σ eligible amount, program currency
    refunded: Decimal  # refunded so far of those orders, program currency
    buyers: int  # members with at least one order in the period
    repeat_buyers: int  # of those, members who had placed an earlier order

    @property
    def net_revenue(self) -> Decimal:
        return self.revenue - self.refunded

    @property
    def average_order(self) -> Decimal | None:
        if not self.orders:
            return None
        return (self.revenue / self.orders).quantize(CENT, rounding=ROUND_HALF_UP)

    @property
    def repeat_rate(self) -> Decimal | None:
        """Percent of the period's buyers who had ordered before (at any time, in or before it)."""
        return percent(self.repeat_buyers, self.buyers)


def order_figures(*, period: ReportPeriod) -> OrderFigures:
    """One aggregate over the period's orders (dated by `placed_at`).

    A repeat buyer is a member with an order in the period for which an earlier order of theirs
    exists (placed before it, at any time): equivalently, a buyer of the period with two or more
    orders placed up to the period's end. Two orders placed at the same instant are ordered by id.
    """
    earlier = Order.objects.filter(member_id=OuterRef("member_id")).filter(
        Q(placed_at__lt=OuterRef("placed_at"))
        | Q(placed_at=OuterRef("placed_at"), pk__lt=OuterRef("pk"))
    )
    row = Order.objects.filter(period.q("placed_at")).aggregate(
        orders=Count("pk"),
        revenue=Sum("eligible_amount", default=Decimal("0")),
        refunded=Sum("refunded_amount", default=Decimal("0")),
        buyers=Count("member_id", distinct=True),
        repeat_buyers=Count("member_id", distinct=True, filter=Exists(earlier)),
    )
    return OrderFigures(
        orders=row["orders"],
        revenue=Decimal(row["revenue"]).quantize(CENT),
        refunded=Decimal(row["refunded"]).quantize(CENT),
        buyers=row["buyers"],
        repeat_buyers=row["repeat_buyers"],
    )


@dataclass(frozen=True)
class WeekPoints:
    week: dt.date  # the Monday the week starts on
    issued: int
    redeemed: int


def points_by_week(*, period: ReportPeriod) -> list[WeekPoints]:
    """Points issued and redeemed per week of the period (one grouped query)."""
    kind = PostingKind
    issued = Q(kind__in=[kind.EARN, kind.TIER_BONUS, kind.CAMPAIGN_BONUS])
    rows = (
        Posting.objects.filter(period.q("effective_at"))
        .annotate(week=TruncWeek("effective_at"))
        .values("week")
        .annotate(
            issued=Sum("points", filter=issued, default=0),
            spent=Sum("points", filter=Q(kind=kind.REDEEM), default=0),
            given_back=Sum("points", filter=Q(kind=kind.CANCEL_REDEMPTION), default=0),
        )
        .order_by("week")
    )
    found = {}
    for row in rows:
        week = row["week"]
        if isinstance(week, dt.datetime):
            week = timezone.localtime(week).date() if timezone.is_aware(week) else week.date()
        found[week] = WeekPoints(week, row["issued"], -row["spent"] - row["given_back"])
    first = timezone.localtime(period.start).date()
    monday = first - dt.timedelta(days=first.weekday())
    last = timezone.localtime(period.end).date()
    weeks = []
    while monday <= last:
        weeks.append(found.get(monday, WeekPoints(monday, 0, 0)))
        monday += dt.timedelta(days=7)
    return weeks
