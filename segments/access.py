"""Segments' part in the subject-access export (`members.access`): the member's statistics and
RFM group, the products they bought (as listed for segments) and their clubs. Three queries.
The rows hold figures and codes, no name or free text; the statistics' `country` is a copy of the
member's, which erasure blanks: `stats_scrub` blanks the copy at once (not at the next refresh)."""

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


def stats_scrub(*, erasure) -> int:
    """The erasure scrubber (`members.erasure`): the statistics' copy of the country."""
    return (
        MemberStats.objects.filter(member_id=erasure.member.pk)
        .exclude(country="")
        .update(country="")
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
