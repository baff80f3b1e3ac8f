"""A campaign's gift coupon (`Campaign.gift_reward`): beside its points, or instead of them.

Every award path (actions, birthdays, anniversaries, first orders, sign-up, feedback, tier
entries, the referrer's reward) goes through `award_grant`, which calls `campaign_gift` for the
same (campaign, member, reference): the gift's idempotency key is the award's
(`campaign:<code>:<member id>:<reference>`), so replaying a trigger gives it once, and its cause
is `campaign:<code>` (rewards cannot import campaigns; the code names it). The coupon itself is
`rewards.services.gifts.gift_grant`'s: the reward's stock, no points.

A gift-only campaign (no points) keeps its per-member limit by counting the member's gifts of
this cause; a campaign with points gives the gift only with an award (the points' own limits and
budget decide).
"""

from __future__ import annotations

import datetime as dt

from campaigns.models import Campaign
from members.actors import Actor
from members.models import Member
from rewards.services.gifts import GiftResult, gift_grant, gifts_count

LIMIT_REACHED = "limit_reached"


def gift_cause(campaign: Campaign) -> str:
    return f"campaign:{campaign.code}"


def campaign_gift(
    *,
    campaign: Campaign,
    member: Member,
    reference: str,
    actor: Actor,
    now: dt.datetime,
    gift_only: bool = False,
) -> GiftResult | None:
    """The campaign's gift for one award; None when the campaign gives none. Runs under the
    member's account lock (`award_grant` holds it)."""
    if campaign.gift_reward_id is None:
        return None
    cause = gift_cause(campaign)
    key = f"{cause}:{member.pk}:{reference}"
    if gift_only and campaign.per_member_limit is not None:
        from rewards.models import Redemption

        if not Redemption.objects.filter(gift_key=key).exists() and (
            gifts_count(member_id=member.pk, cause=cause) >= campaign.per_member_limit
        ):
            return GiftResult(None, LIMIT_REACHED)
    return gift_grant(
        member=member,
        reward=campaign.gift_reward,
        cause=cause,
        key=key,
        actor=actor,
        now=now,
    )
