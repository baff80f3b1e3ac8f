"""Reads of the member statistics: one member's figures for the member page and the API, with
what is computed when read (the average order, the days since the last order)."""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

from django.utils import timezone

from members.models import Member
from segments.models import MemberProduct, MemberStats, RfmGroup

CENT = Decimal("0.01")


def average_order(spend: Decimal, orders: int) -> Decimal | None:
    if not orders:
        return None
    return (spend / orders).quantize(CENT, rounding=ROUND_HALF_UP)


def days_since(last_order_at: dt.datetime | None, now: dt.datetime) -> int | None:
    if last_order_at is None:
        return None
    return (timezone.localdate(now) - timezone.localdate(last_order_at)).days


def member_stats_view(*, member: Member, now: dt.datetime | None = None) -> dict | None:
    """The member's statistics as of the last refresh (None before the first), 2 queries."""
    now = now or timezone.now()
    row = MemberStats.objects.filter(member_id=member.pk).first()
    if row is None:
        return None
    products = MemberProduct.objects.filter(member_id=member.pk).order_by("value")
    kinds: dict[str, list[str]] = {MemberProduct.Kind.CATEGORY: [], MemberProduct.Kind.SKU: []}
    for kind, value in products.values_list("kind", "value"):
        kinds[kind].append(value)
    return {
        "stats": row,
        "average_order": average_order(row.spend_lifetime, row.orders_count),
        "days_since_last_order": days_since(row.last_order_at, now),
        "categories": kinds[MemberProduct.Kind.CATEGORY],
        "skus": kinds[MemberProduct.Kind.SKU],
        "rfm_label": RfmGroup(row.rfm_group).label if row.rfm_group else "",
        "previous_rfm_label": (
            RfmGroup(row.previous_rfm_group).label if row.previous_rfm_group else ""
        ),
    }
