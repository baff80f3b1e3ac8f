"""Tier-entry campaigns (`Campaign.Action.TIER_ENTRY`): points and/or a gift coupon when a member
reaches a tier, once per member, tier and qualification year.

The `loyalty.hooks.tier_entered_listeners` listener: loyalty calls it for the order path's
upgrade and the one-member evaluation (one entry), and for each batch of the set-based daily
evaluation (that batch's upgrades together, its members' accounts locked by the batch). One
query finds the live tier-entry campaigns for the whole call, one reads its members; then each
award goes through `award_grant` (the holdout, the limits, the budget and the gift's stock as for
any action).

- Which tiers: a campaign's target tiers are the tiers whose entry it rewards (none: every tier
  above the entry tier); "configurable per tier" is one campaign per tier with its own gift
  reward. A segment, if set, is checked as for any campaign.
- Once per member, tier and qualification year: the award's reference is
  `tier_entry:<tier code>:<year>`, the year (program time zone) of the moment the tier holds
  from; with calendar-year qualification that is the qualification year. Falling back and
  climbing again in the same year gives nothing more; the next year it does.
"""

from __future__ import annotations

from django.db.models import Q
from django.utils import timezone

from campaigns.models import Campaign
from campaigns.services.awards import award_grant
from loyalty.hooks import TierEntry
from members.actors import Actor
from members.models import Member
from segments.selectors.segments import segment_id_contains


def _live(campaigns: list[Campaign], at) -> list[Campaign]:
    return [c for c in campaigns if c.starts_at <= at and (c.ends_at is None or c.ends_at > at)]


def tier_entry_reference(entry: TierEntry) -> str:
    return f"tier_entry:{entry.tier_code}:{timezone.localtime(entry.at).year}"


def tier_entry_awards(*, entries: list[TierEntry], actor: Actor) -> int:
    """Award the live tier-entry campaigns for these tier entries; how many awards (or gifts)."""
    campaigns = list(
        Campaign.objects.filter(
            kind=Campaign.Kind.ACTION, action=Campaign.Action.TIER_ENTRY, is_active=True
        )
        .filter(Q(ends_at__isnull=True) | Q(ends_at__gt=min(e.at for e in entries)))
        .select_related("gift_reward")
        .prefetch_related("tiers")
        .order_by("pk")
    )
    if not campaigns:
        return 0
    members = Member.objects.in_bulk([e.member_id for e in entries])
    given = 0
    for entry in entries:
        member = members.get(entry.member_id)
        if member is None or member.status != Member.Status.ACTIVE:
            continue
        for campaign in _live(campaigns, entry.at):
            codes = {t.code for t in campaign.tiers.all()}
            if codes and entry.tier_code not in codes:
                continue
            if campaign.segment_id is not None and not segment_id_contains(
                segment_id=campaign.segment_id, member_id=member.pk
            ):
                continue
            award, reason = award_grant(
                campaign=campaign,
                member=member,
                points=campaign.points,
                reference=tier_entry_reference(entry),
                actor=actor,
                description=f"{campaign.name}: {entry.tier_code}",
            )
            given += 1 if award is not None or reason is None else 0
    return given
