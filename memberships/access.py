"""Memberships in the member's subject-access export (`members.access`): each membership with its
periods, payments and refunds, and the perks reported used. Four queries."""

from __future__ import annotations

from members.access import rows
from members.models import Member
from memberships.models import Membership, MembershipCharge, MembershipPeriod, PerkUsage


def memberships_section(*, member: Member) -> dict:
    mine = Membership.objects.filter(member=member).order_by("started_at", "pk")
    return {
        "memberships": rows(
            mine,
            ("id", "status", "started_at", "current_period_end", "ends_at", "ended_at"),
            plan="plan__code",
        ),
        "periods": rows(
            MembershipPeriod.objects.filter(membership__member=member).order_by("pk"),
            ("membership_id", "number", "kind", "starts_at", "ends_at"),
        ),
        "charges": rows(
            MembershipCharge.objects.filter(membership__member=member).order_by("pk"),
            ("membership_id", "period_number", "kind", "amount", "currency", "created_at"),
        ),
        "perk_usages": rows(
            PerkUsage.objects.filter(membership__member=member).order_by("pk"),
            ("membership_id", "period_number", "order_id", "used_at"),
            perk="perk__code",
        ),
    }
