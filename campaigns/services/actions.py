"""Fixed bonuses for actions the storefront reports (reviews, follows, newsletter, profile, custom
codes) and for sign-up. Each award happens once per (campaign, member, reference)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext

from campaigns.models import Campaign
from campaigns.services.awards import NO_CAMPAIGN, award_grant, campaigns_live, member_targeted
from config.errors import ServiceError
from members.actors import Actor
from members.models import Member

# Actions that only the program itself triggers; the storefront can't report them as activities.
SYSTEM_ACTIONS = {
    Campaign.Action.SIGNUP,
    Campaign.Action.FIRST_ORDER,
    Campaign.Action.BIRTHDAY,
    Campaign.Action.ANNIVERSARY,
    Campaign.Action.FEEDBACK,  # awarded when the feedback itself is recorded (`feedback_awards`)
    Campaign.Action.TIER_ENTRY,  # on a tier change (`campaigns.services.tier_entry`)
}


@dataclass
class ActivityResult:
    points_awarded: int = 0
    awards: list[tuple[str, int]] = field(default_factory=list)
    reason: str | None = None
    # Gift-only campaigns that gave their coupon (codes); a campaign with points and a gift is
    # in `awards`.
    gifts: list[str] = field(default_factory=list)


def activity_record(
    *, member: Member, type: str, reference: str, actor: Actor, now: dt.datetime | None = None
) -> ActivityResult:
    """Award every live action campaign for this activity type (bonuses add up)."""
    now = now or timezone.now()
    type = (type or "").strip()
    if not type:
        raise ServiceError(
            "validation_error", gettext("type is required."), status=400, field="type"
        )
    if type in SYSTEM_ACTIONS:
        raise ServiceError(
            "validation_error",
            gettext("%(type)s is awarded by the program itself, not reported as an activity.")
            % {"type": repr(type)},
            status=400,
            field="type",
        )
    campaigns = campaigns_live(kind=Campaign.Kind.ACTION, at=now).filter(
        Q(action=type, action_code="") | Q(action=Campaign.Action.CUSTOM, action_code=type)
    )
    return _awards_grant(
        campaigns,
        member=member,
        reference=f"{type}:{reference}",
        describe=lambda campaign: f"{campaign.name} ({type} {reference})",
        actor=actor,
        now=now,
    )


def _awards_grant(campaigns, *, member, reference, describe, actor, now) -> ActivityResult:
    """Grant each targeted campaign its points once for `reference`; bonuses add up, and with
    none granted the result says why (the first refusal, else `no_campaign`)."""
    result = ActivityResult()
    reasons = []
    for campaign in campaigns:
        if not member_targeted(campaign, member_id=member.pk):
            continue
        award, reason = award_grant(
            campaign=campaign,
            member=member,
            points=campaign.points,
            reference=reference,
            actor=actor,
            description=describe(campaign),
            now=now,
        )
        if award:
            result.awards.append((campaign.code, award.points))
            result.points_awarded += award.points
        elif reason is None:  # a gift-only campaign gave its coupon
            result.gifts.append(campaign.code)
        else:
            reasons.append(reason)
    if not result.awards and not result.gifts:
        result.reason = reasons[0] if reasons else NO_CAMPAIGN
    return result


def signup_awards(*, member: Member, actor: Actor) -> None:
    """`loyalty.hooks` enrolment listener: sign-up bonuses, then the referral's part."""
    from campaigns.services.referrals import referral_enrolled

    now = timezone.now()
    for campaign in campaigns_live(kind=Campaign.Kind.ACTION, at=now).filter(
        action=Campaign.Action.SIGNUP
    ):
        if member_targeted(campaign, member_id=member.pk):
            award_grant(
                campaign=campaign,
                member=member,
                points=campaign.points,
                reference="signup",
                actor=actor,
                description=f"{campaign.name}: welcome",
            )
    referral_enrolled(member=member, actor=actor)


def feedback_awards(*, member: Member, feedback_id: int, actor: Actor) -> ActivityResult:
    """Award every live "feedback submitted" campaign for one piece of feedback, whatever its
    score: a reward that depended on the sentiment would buy good reviews (consumer-protection
    rules forbid it), so a feedback campaign has no condition on the score at all."""
    now = timezone.now()
    campaigns = campaigns_live(kind=Campaign.Kind.ACTION, at=now).filter(
        action=Campaign.Action.FEEDBACK
    )
    return _awards_grant(
        campaigns,
        member=member,
        reference=f"feedback:{feedback_id}",
        describe=lambda campaign: f"{campaign.name}: thank you for your feedback",
        actor=actor,
        now=now,
    )
