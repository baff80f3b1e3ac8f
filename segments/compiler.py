"""Compile a valid condition tree (`segments.conditions`) to a `Q` over `members.Member`.

Where each field is read:
- statistics (day-old, `docs/segments.md` "Staleness"): RFM group and scores, spend / orders /
  average order over the lifetime or the last 365 days, days since the last order;
- live tables: tier (the override while it lasts, else the earned tier, else the entry tier),
  points balance and points expiring, products bought (listed by the refresh), clubs, paid plan,
  marketing consent, country, enrolment date, birthday month, the latest NPS answer; spend /
  orders / average order over any other window are summed from the orders when evaluated.

A member without a statistics row yet (enrolled since the last refresh) meets no condition on
statistics. Only active members are in any segment (`segment_base`).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db.models import (
    Count,
    DecimalField,
    Exists,
    ExpressionWrapper,
    F,
    IntegerField,
    OuterRef,
    Q,
    Subquery,
    Sum,
    Value,
)
from django.db.models import lookups as L
from django.db.models.functions import Coalesce, NullIf
from django.utils import timezone

from feedback.models import DETRACTOR_MAX, Feedback, FeedbackScale
from loyalty.models import Lot, Order, Tier
from members.models import Member
from memberships.models import Membership
from memberships.selectors import holding_perks_q
from segments.models import ClubMembership, MemberProduct

MONEY = DecimalField(max_digits=14, decimal_places=2)
_LOOKUPS = {"eq": L.Exact, "gt": L.GreaterThan, "gte": L.GreaterThanOrEqual,
            "lt": L.LessThan, "lte": L.LessThanOrEqual}  # fmt: skip


def segment_base():
    return Member.objects.filter(status=Member.Status.ACTIVE)


def _day_start(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def _compare(lhs, op: str, value) -> Q:
    """`lhs op value` where lhs is a field path (str) or an expression; NULL never matches."""
    if op == "between":
        return _compare(lhs, "gte", value[0]) & _compare(lhs, "lte", value[1])
    if op == "ne":
        return _compare(lhs, "lt", value) | _compare(lhs, "gt", value)
    if isinstance(lhs, str):
        return Q(**{f"{lhs}__{'exact' if op == 'eq' else op}": value})
    return Q(_LOOKUPS[op](lhs, value))


def _net():
    return ExpressionWrapper(F("eligible_amount") - F("refunded_amount"), output_field=MONEY)


def _windowed(name: str, window: int | None, now: dt.datetime):
    """The spend / orders / average order of a window: a statistics column or a subquery."""
    from segments.services.stats import rfm_window_days

    columns = {None: ("spend_lifetime", "orders_count"), 365: ("spend_365", "orders_365")}
    if window == rfm_window_days() and window not in columns:
        columns[window] = ("rfm_spend", "rfm_orders")
    if window in columns:
        spend, orders = (f"segment_stats__{c}" for c in columns[window])
        if name == "spend":
            return spend
        if name == "orders":
            return orders
        return ExpressionWrapper(F(spend) / NullIf(F(orders), 0), output_field=MONEY)
    since = now - dt.timedelta(days=window)
    rows = Order.objects.filter(member=OuterRef("pk"), placed_at__gte=since, placed_at__lte=now)
    rows = rows.values("member").order_by()
    spend_q = Subquery(rows.annotate(s=Sum(_net())).values("s")[:1], output_field=MONEY)
    count_q = Subquery(rows.annotate(c=Count("id")).values("c")[:1], output_field=IntegerField())
    if name == "spend":
        return Coalesce(spend_q, Value(Decimal("0")), output_field=MONEY)
    if name == "orders":
        return Coalesce(count_q, Value(0))
    return ExpressionWrapper(spend_q / NullIf(count_q, 0), output_field=MONEY)


def _tier(op: str, codes: list[str], today: dt.date) -> Q:
    if op == "not_in":
        codes = sorted(set(Tier.objects.values_list("code", flat=True)) - set(codes))
    override_on = Q(tier_state__override_until__gte=today)
    override_off = Q(tier_state__override_until__lt=today) | Q(
        tier_state__override_until__isnull=True
    )
    q = (override_on & Q(tier_state__override_tier__code__in=codes)) | (
        override_off & Q(tier_state__tier__code__in=codes)
    )
    entry = Tier.objects.filter(rank=0).values_list("code", flat=True).first()
    if entry in codes:
        q |= Q(tier_state__isnull=True)
    return q


def _days_since(op: str, value, today: dt.date) -> Q:
    """Days since the last order (calendar days) as bounds on `last_order_at`."""
    column = "segment_stats__last_order_at"
    if op == "between":
        return _days_since("gte", value[0], today) & _days_since("lte", value[1], today)
    if op == "ne":
        return _days_since("lt", value, today) | _days_since("gt", value, today)
    if op == "eq":
        return _days_since("gte", value, today) & _days_since("lte", value, today)
    low = {"gt": value + 1, "gte": value}.get(op)
    if low is not None:  # days >= low: the last order on or before today - low
        return Q(**{f"{column}__lt": _day_start(today - dt.timedelta(days=low - 1))})
    high = value - 1 if op == "lt" else value  # days <= high
    return Q(**{f"{column}__gte": _day_start(today - dt.timedelta(days=high))})


def _enrolled(op: str, value, today: dt.date) -> Q:
    if op == "between":
        return _enrolled("gte", value[0], today) & _enrolled("lte", value[1], today)
    if op == "ne":
        return _enrolled("lt", value, today) | _enrolled("gt", value, today)
    if op == "eq":
        return _enrolled("gte", value, today) & _enrolled("lte", value, today)
    day = dt.date.fromisoformat(value)
    next_day = day + dt.timedelta(days=1)
    start = {"gt": next_day, "gte": day, "lt": day, "lte": next_day}
    lookup = "gte" if op in ("gt", "gte") else "lt"
    return Q(**{f"enrolled_at__{lookup}": _day_start(start[op])})


def _exists(queryset, op: str) -> Q:
    return Q(Exists(queryset)) if op in ("in", "is") else ~Q(Exists(queryset))


def _leaf(node: dict, now: dt.datetime) -> Q:
    name, op, value = node["field"], node["op"], node["value"]
    today = timezone.localdate(now)
    member = OuterRef("pk")
    if name == "tier":
        return _tier(op, value, today)
    if name == "rfm_group":
        q = Q(segment_stats__rfm_group__in=value)
        return q if op == "in" else (~q & Q(segment_stats__isnull=False))
    if name == "country":  # the member's own (live); unknown ("") meets neither operator
        q = Q(country__in=value)
        return q if op == "in" else (~q & ~Q(country=""))
    if name.endswith("_score"):
        return _compare(f"segment_stats__{name}", op, value)
    if name in ("spend", "orders", "average_order"):
        if name != "orders":  # money travels as text in the tree
            value = [Decimal(v) for v in value] if op == "between" else Decimal(value)
        return _compare(_windowed(name, node.get("window_days"), now), op, value)
    if name == "days_since_last_order":
        return _days_since(op, value, today)
    if name == "enrolled":
        return _enrolled(op, value, today)
    if name == "birthday_month":
        q = Q(birth_date__month__in=value)
        return q if op == "in" else (~q & Q(birth_date__isnull=False))
    if name == "points_balance":
        return _compare(Coalesce(F("account__available"), Value(0)), op, value)
    if name == "points_expiring":
        until = now + dt.timedelta(days=node["within_days"])
        lots = (
            Lot.objects.filter(
                member=member,
                matured=True,
                remaining__gt=0,
                expires_at__gt=now,
                expires_at__lte=until,
            )
            .values("member")
            .order_by()
        )
        total = Subquery(lots.annotate(s=Sum("remaining")).values("s")[:1])
        return _compare(Coalesce(total, Value(0)), op, value)
    if name in ("category", "sku"):
        kind = MemberProduct.Kind.CATEGORY if name == "category" else MemberProduct.Kind.SKU
        return _exists(MemberProduct.objects.filter(member=member, kind=kind, value__in=value), op)
    if name == "club":
        return _exists(ClubMembership.objects.filter(member=member, club__code__in=value), op)
    if name in ("paid_plan", "plan"):
        rows = Membership.objects.filter(holding_perks_q(now), member=member)
        if name == "plan":
            return _exists(rows.filter(plan__code__in=value), op)
        return _exists(rows, "is" if value else "not")
    if name == "marketing_consent":
        return Q(marketing_consent=value)
    if name == "nps_detractor":
        latest = Feedback.objects.filter(member=member, scale=FeedbackScale.NPS).order_by(
            "-created_at", "-pk"
        )
        score = Subquery(latest.values("score")[:1])
        if value:  # the latest NPS answer is 0-6
            return Q(L.LessThanOrEqual(score, DETRACTOR_MAX))
        return Q(L.IsNull(score, True)) | Q(L.GreaterThan(score, DETRACTOR_MAX))
    raise AssertionError(name)


def conditions_q(tree: dict, *, now: dt.datetime | None = None) -> Q:
    """The `Q` of a valid tree (`conditions_validate`) as of `now`."""
    now = now or timezone.now()
    if "all" in tree:
        q = Q()
        for child in tree["all"]:
            q &= conditions_q(child, now=now)
        return q
    if "any" in tree:
        q = conditions_q(tree["any"][0], now=now)
        for child in tree["any"][1:]:
            q |= conditions_q(child, now=now)
        return q
    return _leaf(tree, now)
