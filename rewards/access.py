"""Rewards' section of the subject-access export (`members.access`): redemptions and their
coupons, gifts included (`gift_cause`: why it was given; empty for one bought with points), one
query."""

from __future__ import annotations

from members.access import rows
from members.models import Member
from rewards.models import Redemption


def redemptions_section(*, member: Member) -> list[dict]:
    fields = (
        "id",
        "kind",
        "points_spent",
        "value",
        "currency",
        "coupon_code",
        "status",
        "created_at",
        "expires_at",
        "used_at",
        "used_order_id",
        "cancelled_at",
        "cancel_reason",
        "expired_at",
        "gift_cause",
    )
    redemptions = Redemption.objects.filter(member=member).order_by("created_at", "pk")
    return rows(redemptions, fields, reward="reward__code")
