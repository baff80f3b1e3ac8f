"""The tier metric: what a ladder's thresholds count, in one place (`docs/tiers.md`, "The
metric and the window"). Marketing chooses it (`ProgramSettings.tier_metric`):

- `qualifying_spend` (the default): Σ `SPEND` = `eligible_amount − refunded_amount` of the
  member's orders placed in the window, to the cent (program currency);
- `orders`: the number of the member's orders placed in the window that still have a qualifying
  amount (`eligible_amount > refunded_amount`: an order refunded in full stops counting);
- `growth_value` (成长值): Σ points of the member's postings dated (`effective_at`) in the window
  from the sources Marketing chose (`ProgramSettings.growth_sources`, `GrowthSource`), never
  below 0. `orders`: every posting tied to an order (earn, tier and campaign bonuses, and the
  refund reversals and staff reversals that take them back, dated when recorded); an action
  source: the campaign bonuses outside orders whose reference starts with it (`review:R-9`,
  `birthday:2026`, `referral:42`, `signup`); `other_actions`: any other campaign bonus outside
  an order (custom actions such as a daily sign-in).

Every user reads it from here: the order path and one member's evaluation
(`metric_value`, its SQL compiled once per connection on PostgreSQL from the same queryset),
the daily evaluation's set-based SQL (`metric_sql`), the what-if (`metric_by_member`), the
summary and its sentences (`metric_value_and_oldest`), the messages' "at risk" plan
(`metric_subquery`). The tests compare the SQL with the querysets.

Invariants: money metrics are `Decimal` with two places; counts are `int` and ladders that
count them have whole-number thresholds (`threshold_problem`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import TYPE_CHECKING

from django.db import connection
from django.db.models import (
    Count,
    DecimalField,
    ExpressionWrapper,
    F,
    IntegerField,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce

from config.prepared import hot_cursor
from loyalty.models import Order, Posting, ProgramSettings
from loyalty.models.ledger import PostingKind
from loyalty.models.program import GrowthSource, TierMetric

if TYPE_CHECKING:
    from loyalty.selectors.tiers import Window

CENT = Decimal("0.01")
ZERO = Decimal("0.00")

SPEND = ExpressionWrapper(
    F("eligible_amount") - F("refunded_amount"),
    output_field=DecimalField(max_digits=14, decimal_places=2),
)
COUNTING = Q(eligible_amount__gt=F("refunded_amount"))  # an order that counts as one

# Postings tied to an order that count as its growth value (the `orders` source).
ORDER_KINDS = (
    PostingKind.EARN,
    PostingKind.TIER_BONUS,
    PostingKind.CAMPAIGN_BONUS,
    PostingKind.REFUND_REVERSAL,
    PostingKind.REVERSAL,
)
# Action sources: the campaign reference's type (`campaigns`: "{type}:{reference}").
ACTION_SOURCES = tuple(
    s.value for s in GrowthSource if s not in (GrowthSource.ORDERS, GrowthSource.OTHER_ACTIONS)
)


@dataclass(frozen=True)
class Metric:
    """A ladder's metric: its name and, for growth value, the sources that count."""

    name: str
    sources: tuple[str, ...] = ()

    @property
    def money(self) -> bool:
        return self.name == TierMetric.SPEND

    @property
    def key(self) -> str:
        """What the daily run's configuration records (a change makes the next run full)."""
        return self.name if not self.sources else f"{self.name}({','.join(self.sources)})"

    def value(self, raw) -> Decimal | int:
        """A database figure as this metric's type (None: nothing counts)."""
        if self.money:
            return (Decimal(raw) if raw is not None else ZERO).quantize(CENT)
        return max(int(raw or 0), 0)

    def threshold(self, threshold: Decimal) -> Decimal | int:
        """A tier's threshold in this metric's unit (whole numbers for counts)."""
        return threshold.quantize(CENT) if self.money else int(threshold)


def ladder_metric(settings: ProgramSettings) -> Metric:
    """The metric the program's ladder qualifies on."""
    name = settings.tier_metric or TierMetric.SPEND
    if name != TierMetric.GROWTH:
        return Metric(name)
    chosen = set(settings.growth_sources or [])
    return Metric(name, tuple(s.value for s in GrowthSource if s.value in chosen))


def threshold_problem(metric_name: str, threshold: Decimal) -> str | None:
    """Why `threshold` does not fit the metric (counts are whole numbers), else None."""
    if metric_name != TierMetric.SPEND and threshold != threshold.to_integral_value():
        return "A whole number (the tier metric counts orders or growth value)."
    return None


def ladder_is_live() -> bool:
    """Whether members hold an earned tier above the entry tier (changing the metric then
    needs the re-evaluation confirmed, `loyalty.services.program`)."""
    from loyalty.models import MemberTier

    return MemberTier.objects.filter(tier__rank__gt=0).exists()


# --- the querysets (one member, many members) ------------------------------------------------


def _postings_in(window: Window) -> QuerySet[Posting]:
    qs = Posting.objects.filter(effective_at__lte=window.end)
    if window.start_inclusive:
        return qs.filter(effective_at__gte=window.start)
    return qs.filter(effective_at__gt=window.start)


def _action(source: str) -> Q:
    return Q(source_id=source) | Q(source_id__startswith=f"{source}:")


def growth_q(sources: tuple[str, ...]) -> Q:
    """The postings that count as growth value from `sources` (none: nothing counts)."""
    outside = Q(order__isnull=True, kind=PostingKind.CAMPAIGN_BONUS)
    q = Q(pk__in=[])
    if GrowthSource.ORDERS in sources:
        q |= Q(order__isnull=False, kind__in=ORDER_KINDS)
    for source in sources:
        if source in ACTION_SOURCES:
            q |= outside & _action(source)
    if GrowthSource.OTHER_ACTIONS in sources:
        known = Q(pk__in=[])
        for source in ACTION_SOURCES:
            known |= _action(source)
        q |= outside & ~known
    return q


def _aggregate(metric: Metric):
    if metric.money:
        return Sum(SPEND)
    if metric.name == TierMetric.ORDERS:
        return Count("pk", filter=COUNTING)
    return Sum("points")


def _rows(metric: Metric, window: Window) -> QuerySet:
    """The rows the metric aggregates in the window (orders, or growth postings)."""
    if metric.name == TierMetric.GROWTH:
        return _postings_in(window).filter(growth_q(metric.sources))
    return window.orders()


def _member_query(metric: Metric, window: Window, member_id) -> QuerySet:
    """One member's figure as a one-column queryset: THE definition `metric_value` runs."""
    return (
        _rows(metric, window)
        .filter(member_id=member_id)
        .order_by()
        .values("member_id")
        .annotate(total=_aggregate(metric))
        .values("total")
    )


def metric_by_member(*, window: Window, metric: Metric) -> dict[int, Decimal | int]:
    """Every member's figure in the window (members with no row: 0), one aggregate."""
    rows = _rows(metric, window).values("member_id").annotate(total=_aggregate(metric)).order_by()
    return {row["member_id"]: metric.value(row["total"]) for row in rows}


def metric_value_and_oldest(
    *, member_id: int, window: Window, metric: Metric
) -> tuple[Decimal | int, dt.datetime | None]:
    """The member's figure and when the oldest row that still counts is dated (the day the
    figure starts to fall in a rolling window)."""
    if metric.name == TierMetric.GROWTH:
        qs = _rows(metric, window).filter(member_id=member_id)
        row = qs.aggregate(total=Sum("points"), oldest=Min("effective_at", filter=Q(points__gt=0)))
    else:
        row = (
            window.orders()
            .filter(member_id=member_id)
            .aggregate(total=_aggregate(metric), oldest=Min("placed_at", filter=COUNTING))
        )
    return metric.value(row["total"]), row["oldest"]


def metric_subquery(*, metric: Metric, window: Window, member_ref: str = "member_id"):
    """The figure as a subquery of an outer query over members (`member_ref` names the outer
    member id), coalesced to 0: for the sets of members others select (the messages)."""
    inner = (
        _rows(metric, window)
        .filter(member_id=OuterRef(member_ref))
        .order_by()
        .values("member_id")
        .annotate(total=_aggregate(metric))
        .values("total")
    )
    if metric.money:
        field = DecimalField(max_digits=14, decimal_places=2)
        return Coalesce(Subquery(inner, output_field=field), Value(ZERO), output_field=field)
    return Coalesce(Subquery(inner, output_field=IntegerField()), Value(0))


# --- the order path's read, compiled once ----------------------------------------------------

# (alias, vendor, start_inclusive, metric key) -> (sql, params, where member, start, end go)
_compiled_sql: dict[tuple, tuple] = {}
_SENTINEL_MEMBER = -(10**12) - 7
_SENTINEL_START = dt.datetime(1001, 1, 1, tzinfo=dt.UTC)
_SENTINEL_END = dt.datetime(1002, 1, 1, tzinfo=dt.UTC)


def qualifying_spend(*, member_id: int, window: Window) -> Decimal:
    """Σ (eligible − refunded) of the member's orders in the window (the spend metric)."""
    return metric_value(member_id=member_id, window=window, metric=Metric(TierMetric.SPEND))


def metric_value(*, member_id: int, window: Window, metric: Metric) -> Decimal | int:
    """The member's figure in the window (`_member_query`): one statement, its SQL compiled
    once per connection, window kind and metric on PostgreSQL (the order path reads it on every
    order of a member when tiers are configured, and building the aggregate through the ORM
    cost more than the database's answer)."""
    if metric.name == TierMetric.GROWTH and not metric.sources:
        return 0  # nothing counts (validation asks for a source; a query would match nothing)
    if connection.vendor != "postgresql":
        rows = list(_member_query(metric, window, member_id))  # one group at most
        return metric.value(rows[0]["total"] if rows else None)
    key = (connection.alias, connection.vendor, window.start_inclusive, metric.key)
    compiled = _compiled_sql.get(key)
    if compiled is None:
        sentinel = replace(window, start=_SENTINEL_START, end=_SENTINEL_END)
        query = _member_query(metric, sentinel, _SENTINEL_MEMBER)
        sql, params = query.query.sql_with_params()
        params = list(params)
        prepared = {
            _SENTINEL_MEMBER: "member",
            connection.ops.adapt_datetimefield_value(_SENTINEL_START): "start",
            connection.ops.adapt_datetimefield_value(_SENTINEL_END): "end",
        }
        slots = [(i, prepared[p]) for i, p in enumerate(params) if _hashable(p) in prepared]
        assert sorted(name for _, name in slots) == ["end", "member", "start"], slots
        compiled = _compiled_sql[key] = (sql, params, slots)
    sql, params, slots = compiled
    values = {
        "member": int(member_id),
        "start": connection.ops.adapt_datetimefield_value(window.start),
        "end": connection.ops.adapt_datetimefield_value(window.end),
    }
    params = list(params)
    for position, name in slots:
        params[position] = values[name]
    with hot_cursor(connection) as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    return metric.value(None if row is None else row[0])


def _hashable(value):
    try:
        hash(value)
    except TypeError:
        return None
    return value


# --- the daily evaluation's SQL --------------------------------------------------------------


def _growth_sql(alias: str, sources: tuple[str, ...]) -> str:
    """`growth_q` as SQL over postings `alias` (the sources are the enum's fixed words)."""
    outside = f"{alias}.order_id IS NULL AND {alias}.kind = '{PostingKind.CAMPAIGN_BONUS}'"

    def action(source: str) -> str:
        assert source.isidentifier(), source
        prefix = f"{source}:"
        return (
            f"({alias}.source_id = '{source}' OR "
            f"SUBSTR({alias}.source_id, 1, {len(prefix)}) = '{prefix}')"
        )

    parts = []
    if GrowthSource.ORDERS in sources:
        kinds = ", ".join(f"'{k}'" for k in ORDER_KINDS)
        parts.append(f"({alias}.order_id IS NOT NULL AND {alias}.kind IN ({kinds}))")
    parts += [f"({outside} AND {action(s)})" for s in sources if s in ACTION_SOURCES]
    if GrowthSource.OTHER_ACTIONS in sources:
        known = " OR ".join(action(s) for s in ACTION_SOURCES)
        parts.append(f"({outside} AND NOT ({known}))")
    return "(" + (" OR ".join(parts) or "1 = 0") + ")"


def metric_sql(metric: Metric, *, window_op: str, scope: str) -> str:
    """`SELECT member_id, spend FROM ... GROUP BY member_id`: every member's figure in the window
    bounded by the parameters `%(start)s` (compared with `window_op`) and `%(end)s`; `scope`: SQL
    appended to the WHERE clause, over the orders `o` or postings `o`. The column is named
    `spend` whatever the metric (the daily evaluation's SQL reads it so)."""
    if metric.name == TierMetric.GROWTH:
        table = Posting._meta.db_table
        where = (
            f"o.effective_at {window_op} %(start)s AND o.effective_at <= %(end)s"
            f" AND {_growth_sql('o', metric.sources)}"
        )
        figure = "CASE WHEN SUM(o.points) > 0 THEN SUM(o.points) ELSE 0 END"
    else:
        table = Order._meta.db_table
        where = f"o.placed_at {window_op} %(start)s AND o.placed_at <= %(end)s"
        figure = (
            "ROUND(SUM(o.eligible_amount - o.refunded_amount), 2)"
            if metric.money
            else "COUNT(CASE WHEN o.eligible_amount > o.refunded_amount THEN 1 END)"
        )
    return f"""SELECT o.member_id, {figure} AS spend
                FROM {table} o WHERE {where}{scope}
                GROUP BY o.member_id"""
