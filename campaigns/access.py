"""Campaigns' sections of the subject-access export (`members.access`): the member's campaign
awards, the campaigns that held them out (`campaigns.holdout`), and referrals (made and
received), one query each."""

from __future__ import annotations

from campaigns.models import CampaignAward, CampaignHoldout, Referral
from members.access import rows
from members.models import Member


def awards_section(*, member: Member) -> list[dict]:
    awards = CampaignAward.objects.filter(member=member).order_by("created_at", "pk")
    return rows(
        awards,
        ("points", "reference", "created_at"),
        campaign="campaign__code",
        order_id="order__order_id",
    )


def holdouts_section(*, member: Member) -> list[dict]:
    """The campaigns that held the member out: a decision about them, so theirs to read."""
    holdouts = CampaignHoldout.objects.filter(member=member).order_by("created_at", "pk")
    return rows(holdouts, ("points_withheld", "reference", "created_at"), campaign="campaign__code")


def referrals_section(*, member: Member) -> dict:
    """The referrals the member made and the one that brought them, without the other member's
    identity (it is not the member's data)."""
    fields = ("status", "created_at", "decided_at")
    return {
        "made": rows(Referral.objects.filter(referrer=member).order_by("created_at", "pk"), fields),
        "received": rows(Referral.objects.filter(referee=member), fields),
    }
