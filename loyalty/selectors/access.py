"""Loyalty's sections of the subject-access export (`members.access`): one or two `values()`
queries each, whatever the member's history."""

from __future__ import annotations

from loyalty.models import (
    Account,
    AdjustmentRequest,
    Lot,
    MemberTier,
    Order,
    Posting,
    Refund,
    TierChange,
)
from members.access import rows
from members.models import Member


def account_section(*, member: Member) -> dict | None:
    found = rows(Account.objects.filter(member=member), ("available", "pending", "lifetime_earned"))
    return found[0] if found else None


def postings_section(*, member: Member) -> list[dict]:
    fields = (
        "id",
        "kind",
        "points",
        "created_at",
        "effective_at",
        "available_at",
        "expires_at",
        "campaign_code",
        "reward_code",
        "reason",
        "description",
        "actor_kind",
    )
    postings = Posting.objects.filter(member=member).order_by("effective_at", "pk")
    return rows(postings, fields, order_id="order__order_id", refund_id="refund__refund_id")


def lots_section(*, member: Member) -> list[dict]:
    fields = ("points", "remaining", "available_at", "expires_at", "matured")
    return rows(Lot.objects.filter(member=member).order_by("pk"), fields, posting_id="posting_id")


def orders_section(*, member: Member) -> list[dict]:
    fields = (
        "order_id",
        "placed_at",
        "currency",
        "total",
        "eligible_total",
        "refunded_total",
        "items",
        "channel",
        "points_base",
        "points_tier_bonus",
        "points_campaign",
        "points_reversed",
        "tier_code",
        "source",
        "created_at",
    )
    return rows(Order.objects.filter(member=member).order_by("placed_at", "pk"), fields)


def refunds_section(*, member: Member) -> list[dict]:
    fields = ("refund_id", "amount", "refunded_at", "points_reversed", "created_at")
    refunds = Refund.objects.filter(order__member=member).order_by("refunded_at", "pk")
    return rows(refunds, fields, order_id="order__order_id")


def tier_section(*, member: Member) -> dict | None:
    found = rows(
        MemberTier.objects.filter(member=member),
        ("since", "qualified_at", "override_until", "override_reason", "override_at"),
        tier="tier__code",
        override_tier="override_tier__code",
    )
    return found[0] if found else None


def tier_history_section(*, member: Member) -> list[dict]:
    changes = TierChange.objects.filter(member=member).order_by("at", "pk")
    return rows(
        changes,
        ("kind", "at", "qualifying_spend", "note", "actor_kind"),
        from_tier="from_tier__code",
        to_tier="to_tier__code",
    )


def adjustments_section(*, member: Member) -> list[dict]:
    requests = AdjustmentRequest.objects.filter(member=member).order_by("requested_at", "pk")
    return rows(
        requests,
        ("id", "points", "reason", "status", "requested_at", "decided_at", "decision_note"),
    )


SECTIONS = (
    ("account", account_section),
    ("postings", postings_section),
    ("lots", lots_section),
    ("orders", orders_section),
    ("refunds", refunds_section),
    ("tier", tier_section),
    ("tier_history", tier_history_section),
    ("adjustments", adjustments_section),
)
