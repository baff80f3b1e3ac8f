"""Awarding: the one place budgets and per-member limits are enforced.

- A campaign without a budget takes no lock and writes no shared row: its once-per-reference and
  per-member limits are counted on the member's own awards, under the member's account lock
  (held by the caller, or taken by `award_grant`), and its points awarded are summed on read
  (`campaigns.selectors.campaign_points_awarded`).
- A campaign with a budget takes it from striped counters (`campaigns.services.budget`): never
  past the budget, the last award gets exactly what is left, and orders of members on different
  stripes do not wait for each other.

A held-out member (`campaigns.holdout`) gets nothing and reserves no budget; the first time, the
`CampaignHoldout` row records it (`holdout_record`, under the same member lock).

Lock order: the member's loyalty Account first, then the campaign's budget stripes
(`budget.budget_take`). The campaign row itself is never locked by an award.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from campaigns.holdout import HELD_OUT, held_out
from campaigns.models import Campaign, CampaignAward, CampaignHoldout
from campaigns.services.budget import budget_take
from campaigns.services.gifts import campaign_gift
from loyalty.services.ledger import account_lock
from loyalty.services.points import points_award
from loyalty.services.tiers import tier_for_order
from members.actors import Actor
from members.models import Member
from rewards.services.gifts import ALREADY_GIVEN
from segments.models import Segment
from segments.selectors.segments import segment_id_contains

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
    """In the campaign's tiers (if any) and in its segment (if any, evaluated now)."""
    tier_codes = {t.code for t in campaign.tiers.all()}
    if tier_codes:
        code, _multiplier = tier_for_order(member_id=member_id)
        if code not in tier_codes:
            return False
    if campaign.segment_id is None:
        return True
    return segment_id_contains(segment_id=campaign.segment_id, member_id=member_id)


def award_segment_code(campaign: Campaign) -> str:
    """What an award records of the campaign's segment: its code (the member was in it: awards
    are made only to targeted members), "" without one."""
    if campaign.segment_id is None:
        return ""
    return (
        Segment.objects.filter(pk=campaign.segment_id).values_list("code", flat=True).first() or ""
    )


def award_reserve(
    *,
    campaign: Campaign,
    member_id: int,
    points: int,
    reference: str,
    reference_new: bool = False,
) -> tuple[int, str | None]:
    """Reserve up to `points` of the campaign's budget for one award: (granted, reason if 0).

    Must run inside a transaction that already holds the member's account lock: the member's
    awards (once per reference, the per-member limit) cannot change under it.
    `reference_new`: the caller knows no award can have this reference yet (an order's bonus,
    `order:<order_id>`, right after that order was inserted): the look-up is skipped; the unique
    constraint still holds it.
    """
    if points <= 0:
        return 0, NO_CAMPAIGN
    if not reference_new or campaign.per_member_limit is not None:
        awards = CampaignAward.objects.filter(campaign_id=campaign.pk, member_id=member_id)
        if not reference_new and awards.filter(reference=reference).exists():
            return 0, LIMIT_REACHED
        if campaign.per_member_limit is not None and awards.count() >= campaign.per_member_limit:
            return 0, LIMIT_REACHED
    if campaign.budget_points is None:
        return points, None
    grant = budget_take(campaign=campaign, member_id=member_id, points=points)
    if grant <= 0:
        return 0, BUDGET_EXHAUSTED
    return grant, None


def holdout_record(
    *, campaign: Campaign, member_id: int, reference: str, points: int, now: dt.datetime
) -> None:
    """Log that the member was held out, once per (campaign, member): the first eligible order or
    action writes the row, later ones only look (one indexed read). Must run under the member's
    account lock, so the look-up and the insert cannot race another order of the same member."""
    if CampaignHoldout.objects.filter(campaign_id=campaign.pk, member_id=member_id).exists():
        return
    CampaignHoldout.objects.create(
        campaign_id=campaign.pk,
        member_id=member_id,
        reference=reference,
        points_withheld=max(points, 0),
        created_at=now,
    )


def award_grant(
    *,
    campaign: Campaign,
    member: Member,
    points: int,
    reference: str,
    actor: Actor,
    description: str = "",
    now: dt.datetime | None = None,
    gift: bool = True,
) -> tuple[CampaignAward | None, str | None]:
    """Award a campaign's points outside an order, once per reference: (award, reason if none),
    and its gift coupon, if it has one (`campaigns.services.gifts`; `gift=False`: not to this
    member, e.g. a referral's new member). A gift-only campaign (no points) answers (None, None)
    when the gift was given, else (None, why)."""
    now = now or timezone.now()
    gift_only = gift and points <= 0 and campaign.gift_reward_id is not None
    with transaction.atomic():
        account_lock(member_id=member.pk)
        if (points > 0 or gift_only) and held_out(campaign, member_id=member.pk):
            holdout_record(
                campaign=campaign, member_id=member.pk, reference=reference, points=points, now=now
            )
            return None, HELD_OUT
        if gift_only:
            given = campaign_gift(
                campaign=campaign,
                member=member,
                reference=reference,
                actor=actor,
                now=now,
                gift_only=True,
            )
            if given.created:
                return None, None
            return None, LIMIT_REACHED if given.outcome == ALREADY_GIVEN else given.outcome
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
            segment_code=award_segment_code(campaign),
            created_at=now,
        )
        if gift:
            campaign_gift(
                campaign=campaign, member=member, reference=reference, actor=actor, now=now
            )
    return award, None
