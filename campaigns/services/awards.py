"""Awarding under a budget: the one place budgets and per-member limits are enforced.

Lock order: the member's loyalty Account first (the caller holds it, or `award_grant` takes it),
then the campaign row. Under the campaign's lock the grant is capped to the budget left, so
concurrent orders can never take a campaign past its budget: the last award gets exactly what is
left, then the campaign stops awarding.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from campaigns.models import Campaign, CampaignAward
from loyalty.services.ledger import account_lock
from loyalty.services.points import points_award
from loyalty.services.tiers import tier_for_order
from members.actors import Actor
from members.models import Member

NO_CAMPAIGN = "no_campaign"
LIMIT_REACHED = "limit_reached"
BUDGET_EXHAUSTED = "budget_exhausted"


@dataclass(frozen=True)
class Grant:
    campaign: Campaign
    points: int


def campaigns_live(*, kind: str, at: dt.datetime):
    """Active campaigns of a kind whose window contains `at`."""
    return (
        Campaign.objects.filter(kind=kind, is_active=True, starts_at__lte=at)
        .filter(Q(ends_at__isnull=True) | Q(ends_at__gt=at))
        .prefetch_related("tiers")
        .order_by("pk")
    )


def member_targeted(campaign: Campaign, *, member_id: int) -> bool:
    tier_codes = {t.code for t in campaign.tiers.all()}
    if not tier_codes:
        return True
    code, _multiplier = tier_for_order(member_id=member_id)
    return code in tier_codes


def award_reserve(
    *, campaign: Campaign, member_id: int, points: int, reference: str
) -> tuple[int, str | None]:
    """Reserve up to `points` of the campaign's budget for one award: (granted, reason if 0).

    Must run inside a transaction that already holds the member's account lock.
    """
    if points <= 0:
        return 0, NO_CAMPAIGN
    locked = Campaign.objects.select_for_update().get(pk=campaign.pk)
    awards = CampaignAward.objects.filter(campaign=locked, member_id=member_id)
    if awards.filter(reference=reference).exists():
        return 0, LIMIT_REACHED
    if locked.per_member_limit is not None and awards.count() >= locked.per_member_limit:
        return 0, LIMIT_REACHED
    grant = points
    if locked.budget_points is not None:
        grant = min(points, locked.budget_points - locked.points_awarded)
    if grant <= 0:
        return 0, BUDGET_EXHAUSTED
    Campaign.objects.filter(pk=locked.pk).update(points_awarded=F("points_awarded") + grant)
    return grant, None


def award_grant(
    *,
    campaign: Campaign,
    member: Member,
    points: int,
    reference: str,
    actor: Actor,
    description: str = "",
    now: dt.datetime | None = None,
) -> tuple[CampaignAward | None, str | None]:
    """Award a campaign's points outside an order, once per reference: (award, reason if none)."""
    now = now or timezone.now()
    with transaction.atomic():
        account_lock(member_id=member.pk)
        granted, reason = award_reserve(
            campaign=campaign, member_id=member.pk, points=points, reference=reference
        )
        if not granted:
            return None, reason
        posting = points_award(
            member=member,
            points=granted,
            campaign_code=campaign.code,
            idempotency_key=f"campaign:{campaign.code}:{member.pk}:{reference}",
            actor=actor,
            description=description or campaign.name,
            source_id=reference,
            now=now,
        )
        award = CampaignAward.objects.create(
            campaign=campaign,
            member=member,
            posting=posting,
            points=granted,
            reference=reference,
            created_at=now,
        )
    return award, None
