"""Segments' part in the subject-access export (`members.access`): the member's statistics and
RFM group, the products they bought (as listed for segments) and their clubs. Three queries.
Nothing here needs an erasure scrubber: the rows hold figures and codes, no name or free text
(`MemberStats.country` is a country, kept like the orders it comes from)."""

from __future__ import annotations

from members.access import plain, rows
from members.models import Member
from segments.models import ClubMembership, MemberProduct, MemberStats

STATS_FIELDS = (
    "first_order_at",
    "last_order_at",
    "orders_count",
    "spend_lifetime",
    "orders_365",
    "spend_365",
    "country",
    "recency_score",
    "frequency_score",
    "monetary_score",
    "rfm_group",
    "refreshed_at",
)


def segments_section(*, member: Member) -> dict:
    stats = MemberStats.objects.filter(member=member).values(*STATS_FIELDS).first()
    products = MemberProduct.objects.filter(member=member).order_by("kind", "value")
    clubs = ClubMembership.objects.filter(member=member).order_by("joined_at", "pk")
    return {
        "statistics": plain(stats) if stats else None,
        "products": rows(products, ("kind", "value")),
        "clubs": rows(clubs, ("joined_at",), club="club__code"),
    }
