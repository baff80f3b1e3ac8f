"""`audit_member_statistics`: recompute the member statistics, RFM scores and products bought
from the orders, independently of the refresh's SQL (ORM aggregates and Python), and report
every difference (and the country against the member's own).

A member with an order or a refund recorded after their row was refreshed is reported as stale
(counted, not a mismatch): the figures are a day old by design (docs/segments.md, "Staleness").
Everything else must match exactly, as of the row's `refreshed_at`: the windows (365 days, the
RFM window) are counted back from it.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Count, DecimalField, ExpressionWrapper, F, Max, Min, Q, Sum

from loyalty.models import Order, Refund
from members.models import Member
from segments.models import MemberProduct, MemberStats
from segments.rfm import rfm_group_for
from segments.services.stats import rfm_window_days

ZERO = Decimal("0.00")
_PRODUCT_KEYS = ((MemberProduct.Kind.SKU, "sku"), (MemberProduct.Kind.CATEGORY, "category"))


@dataclass
class StatsAudit:
    mismatches: list[str] = field(default_factory=list)
    members: int = 0
    stale: int = 0

    @property
    def ok(self) -> bool:
        return not self.mismatches


def _net():
    return ExpressionWrapper(
        F("eligible_amount") - F("refunded_amount"),
        output_field=DecimalField(max_digits=14, decimal_places=2),
    )


def _aggregates(as_of: dt.datetime) -> dict[int, dict]:
    since_365 = as_of - dt.timedelta(days=365)
    since_rfm = as_of - dt.timedelta(days=rfm_window_days())
    qs = (
        Order.objects.filter(placed_at__lte=as_of)
        .values("member_id")
        .annotate(
            first_order_at=Min("placed_at"),
            last_order_at=Max("placed_at"),
            orders_count=Count("id"),
            spend_lifetime=Sum(_net()),
            orders_365=Count("id", filter=Q(placed_at__gte=since_365)),
            spend_365=Sum(_net(), filter=Q(placed_at__gte=since_365)),
            rfm_orders=Count("id", filter=Q(placed_at__gte=since_rfm)),
            rfm_spend=Sum(_net(), filter=Q(placed_at__gte=since_rfm)),
        )
        .order_by()
    )
    return {row.pop("member_id"): row for row in qs}


def quintiles(values: dict[int, object]) -> dict[int, int]:
    """1 + 5 × (rank − 1) ÷ n, ties sharing the lowest rank: the refresh's rule, in Python."""
    ordered = sorted(values.values())
    n = len(ordered)
    first_rank: dict[object, int] = {}
    for position, value in enumerate(ordered, start=1):
        first_rank.setdefault(value, position)
    return {key: 1 + 5 * (first_rank[value] - 1) // n for key, value in values.items()}


def _money(value) -> Decimal:
    return Decimal(value or 0).quantize(ZERO)


def _expected(aggs: dict[int, dict], member_ids) -> dict[int, dict]:
    expected = {}
    for member_id in member_ids:
        row = aggs.get(member_id, {})
        expected[member_id] = {
            "first_order_at": row.get("first_order_at"),
            "last_order_at": row.get("last_order_at"),
            "orders_count": row.get("orders_count", 0),
            "spend_lifetime": _money(row.get("spend_lifetime")),
            "orders_365": row.get("orders_365", 0),
            "spend_365": _money(row.get("spend_365")),
            "rfm_orders": row.get("rfm_orders", 0),
            "rfm_spend": _money(row.get("rfm_spend")),
        }
    scored = {k: v for k, v in aggs.items() if v["rfm_orders"] > 0}
    r = quintiles({k: v["last_order_at"] for k, v in scored.items()})
    f = quintiles({k: v["rfm_orders"] for k, v in scored.items()})
    m = quintiles({k: _money(v["rfm_spend"]) for k, v in scored.items()})
    for member_id, row in expected.items():
        if member_id in scored:
            scores = (r[member_id], f[member_id], m[member_id])
            row.update(
                zip(("recency_score", "frequency_score", "monetary_score"), scores, strict=True)
            )
            row["rfm_group"] = str(rfm_group_for(*scores))
        else:
            row.update(recency_score=None, frequency_score=None, monetary_score=None)
            row["rfm_group"] = ""
    return expected


def _products(member_ids: set[int], as_of: dt.datetime) -> dict[int, set[tuple[str, str]]]:
    found: dict[int, set[tuple[str, str]]] = defaultdict(set)
    orders = Order.objects.filter(member_id__in=member_ids, created_at__lte=as_of)
    for member_id, items in orders.values_list("member_id", "items").iterator(chunk_size=2000):
        for item in items if isinstance(items, list) else []:
            if not isinstance(item, dict):
                continue
            for kind, key in _PRODUCT_KEYS:
                if item.get(key):
                    found[member_id].add((str(kind), str(item[key])[:64]))
    return found


def member_statistics_audit() -> StatsAudit:
    report = StatsAudit()
    stored = {s.member_id: s for s in MemberStats.objects.all()}
    missing = Member.objects.exclude(pk__in=list(stored)).values_list("pk", flat=True)
    report.mismatches += [f"member {pk}: no statistics row" for pk in missing]
    report.members = len(stored)
    if not stored:
        return report
    # Rows of one run share `refreshed_at` (the run's clock).
    by_run: dict[dt.datetime, set[int]] = defaultdict(set)
    for member_id, stats in stored.items():
        by_run[stats.refreshed_at].add(member_id)
    for as_of, member_ids in by_run.items():
        changed = set(
            Order.objects.filter(created_at__gt=as_of).values_list("member_id", flat=True)
        ) | set(
            Refund.objects.filter(created_at__gt=as_of).values_list("order__member_id", flat=True)
        )
        fresh = member_ids - changed
        report.stale += len(member_ids & changed)
        # Scores rank members against each other: one changed member can move everyone's.
        fresh_scores = not (member_ids & changed)
        expected = _expected(_aggregates(as_of), fresh)
        products = _products(fresh, as_of)
        # The country is the member's, copied by the refresh: compared unless the member changed
        # since (then it is a day old by design, like the figures).
        countries = dict(
            Member.objects.filter(pk__in=fresh, updated_at__lte=as_of).values_list("pk", "country")
        )
        stored_products: dict[int, set] = defaultdict(set)
        for member_id, kind, value in MemberProduct.objects.filter(member_id__in=fresh).values_list(
            "member_id", "kind", "value"
        ):
            stored_products[member_id].add((kind, value))
        for member_id in sorted(fresh):
            row = stored[member_id]
            for name, want in expected[member_id].items():
                if not fresh_scores and name in _SCORE_FIELDS:
                    continue
                have = getattr(row, name)
                if have != want:
                    report.mismatches.append(
                        f"member {member_id}: {name} is {have}, orders give {want}"
                    )
            if member_id in countries and row.country != countries[member_id]:
                report.mismatches.append(
                    f"member {member_id}: country is {row.country!r}, "
                    f"the member's is {countries[member_id]!r}"
                )
            if stored_products[member_id] != products.get(member_id, set()):
                report.mismatches.append(
                    f"member {member_id}: products bought {sorted(stored_products[member_id])}, "
                    f"orders give {sorted(products.get(member_id, set()))}"
                )
    return report


_SCORE_FIELDS = frozenset({"recency_score", "frequency_score", "monetary_score", "rfm_group"})
