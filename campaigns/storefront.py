"""Reads for the storefront's "ways to earn" and "refer a friend" pages.

- `ways_to_earn(member=None)`: the campaigns live now that a member could earn from, with what
  they give and, for a member, how much of their limits is left. Live and targeted mean exactly
  what the awarding services mean (`campaigns_live`, `member_targeted`): the page never promises
  a bonus the order or activity would then not give for a reason it did not show.
- `referral_stats(member)`: friends who joined with the member's code, by outcome, and the
  points the member earned for them.

A handful of queries whatever the number of campaigns: live campaigns with their tiers, the
budgeted ones' budget left, then the member's award counts grouped by campaign.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Count, Q, Sum
from django.utils import timezone

from campaigns.models import Campaign, CampaignAward, Referral
from campaigns.selectors import campaigns_budget_left
from campaigns.services.actions import SYSTEM_ACTIONS
from campaigns.services.awards import campaigns_live, member_targeted
from members.models import Member

KINDS = (Campaign.Kind.MULTIPLIER, Campaign.Kind.ACTION, Campaign.Kind.REFERRAL)


@dataclass(frozen=True)
class WayToEarn:
    campaign: Campaign
    action: str | None  # the activity `type` the storefront reports; None for other kinds
    automatic: bool  # the program awards it itself (sign-up, birthday...), nothing to report
    awards_left: int | None  # per-member limit minus the member's awards; None: no limit
    available: bool  # False when the budget is spent or the member's limit reached


def _live_campaigns(at: dt.datetime) -> list[Campaign]:
    live: list[Campaign] = []
    for kind in KINDS:
        live.extend(campaigns_live(kind=kind, at=at))
    return live


def ways_to_earn(
    *, member: Member | None = None, now: dt.datetime | None = None
) -> list[WayToEarn]:
    """Live campaigns a member can earn from (all live ones without a member), by kind then
    code. A member's sign-up campaigns are left out: that moment has passed."""
    now = now or timezone.now()
    campaigns = _live_campaigns(now)
    awarded: dict[int, int] = {}
    if member is not None:
        campaigns = [
            c
            for c in campaigns
            if c.action != Campaign.Action.SIGNUP and member_targeted(c, member_id=member.pk)
        ]
        awarded = dict(
            CampaignAward.objects.filter(member=member, campaign__in=campaigns)
            .values_list("campaign")
            .annotate(n=Count("pk"))
            .values_list("campaign", "n")
        )
    budgets_left = campaigns_budget_left(campaigns)
    ways = []
    for campaign in sorted(campaigns, key=lambda c: (KINDS.index(c.kind), c.code)):
        left = None
        if member is not None and campaign.per_member_limit is not None:
            left = max(campaign.per_member_limit - awarded.get(campaign.pk, 0), 0)
        budget_spent = budgets_left.get(campaign.pk, 1) <= 0
        is_action = campaign.kind == Campaign.Kind.ACTION
        ways.append(
            WayToEarn(
                campaign=campaign,
                action=campaign.action_key() if is_action else None,
                automatic=is_action and campaign.action in SYSTEM_ACTIONS,
                awards_left=left,
                available=not budget_spent and left != 0,
            )
        )
    return ways


def referral_stats(*, member: Member) -> dict:
    """Friends who enrolled with the member's code, by outcome, and the points paid for them."""
    counts = Referral.objects.filter(referrer=member).aggregate(
        joined=Count("pk"),
        pending=Count("pk", filter=Q(status=Referral.Status.PENDING)),
        rewarded=Count("pk", filter=Q(status=Referral.Status.REWARDED)),
        rejected=Count("pk", filter=Q(status=Referral.Status.REJECTED)),
    )
    # The referrer's awards are `referral:<referee id>`; `referral:referee` is the member's own
    # welcome bonus for having been referred, not something they earned by referring.
    earned = (
        CampaignAward.objects.filter(
            member=member, campaign__kind=Campaign.Kind.REFERRAL, reference__startswith="referral:"
        )
        .exclude(reference="referral:referee")
        .aggregate(points=Sum("points"))["points"]
    )
    return {"referral_code": member.referral_code, **counts, "points_earned": earned or 0}
