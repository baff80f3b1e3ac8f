"""Reads of the reward catalogue and redemptions, and each reward's eligibility for a member.

`reward_eligibility` is the single definition of "may this member redeem this reward now"
(`redemption_create` re-checks the same rules under the locks, so the catalogue can never promise
what a redemption then refuses for a reason it did not show). The member's tier comes from one
function, `member_tier_rank`, the only place this app asks loyalty which tier a member holds.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Count, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext

from config.errors import NotFound
from loyalty.models import Tier
from loyalty.services import tiers as tier_services
from members.models import Member
from rewards.models import Redemption, RedemptionStatus, Reward, RewardKind
from segments.selectors.segments import segment_id_contains

# Redemptions that use up a per-member limit: all but cancelled ones (an expired coupon was
# still the member's to use).
COUNTED_STATUSES = (RedemptionStatus.ISSUED, RedemptionStatus.USED, RedemptionStatus.EXPIRED)


class Reason:
    """Why a member may not redeem a reward (the catalogue's `reason`)."""

    NOT_ACTIVE = "not_active"
    TIER_TOO_LOW = "tier_too_low"
    LIMIT_REACHED = "limit_reached"
    OUT_OF_STOCK = "out_of_stock"
    MEMBER_SUSPENDED = "member_suspended"
    NOT_IN_SEGMENT = "not_in_segment"


def member_tier_rank(*, member_id: int) -> int:
    """The rank of the tier the member holds now (an active override wins); 0 without one.

    Asks loyalty's tier service (`tier_for_order`: "the tier held now") for the code and maps it to
    a rank; a member in no tier is in the entry tier, rank 0.
    """
    code, _multiplier = tier_services.tier_for_order(member_id=member_id)
    if not code:
        return 0
    return Tier.objects.filter(code=code).values_list("rank", flat=True).first() or 0


def reward_get_by_code(*, code: str) -> Reward:
    reward = Reward.objects.select_related("min_tier").filter(code=code).first()
    if reward is None:
        raise NotFound(
            "reward_not_found", gettext("No reward with code %(code)s.") % {"code": repr(code)}
        )
    return reward


def rewards_catalogue(*, now: dt.datetime | None = None) -> QuerySet[Reward]:
    """Rewards a storefront shows: switched on and not yet over (current and upcoming ones)."""
    now = now or timezone.now()
    return (
        Reward.objects.filter(is_active=True)
        .filter(Q(active_to__isnull=True) | Q(active_to__gt=now))
        .select_related("min_tier")
        .order_by("points_cost", "code")
    )


def member_redemption_counts(*, member_id: int, reward_ids=None) -> dict[int, int]:
    """Per reward: the member's redemptions that count towards a per-member limit."""
    qs = Redemption.objects.filter(member_id=member_id, status__in=COUNTED_STATUSES)
    if reward_ids is not None:
        qs = qs.filter(reward_id__in=list(reward_ids))
    return dict(qs.values("reward_id").annotate(n=Count("pk")).values_list("reward_id", "n"))


def reward_ineligibility(
    *,
    reward: Reward,
    member: Member,
    tier_rank: int,
    redeemed: int,
    now: dt.datetime,
) -> str | None:
    """The first reason the member may not redeem the reward now, or None if they may.

    Order: the reward itself (window), the member (status, tier), their history (limit), then
    stock, so a member is told the most lasting reason first.
    """
    if not reward.is_live(now):
        return Reason.NOT_ACTIVE
    if member.status != Member.Status.ACTIVE:
        return Reason.MEMBER_SUSPENDED
    if reward.min_tier is not None and tier_rank < reward.min_tier.rank:
        return Reason.TIER_TOO_LOW
    if reward.segment_id is not None and not segment_id_contains(
        segment_id=reward.segment_id, member_id=member.pk, now=now
    ):
        return Reason.NOT_IN_SEGMENT
    if reward.per_member_limit is not None and redeemed >= reward.per_member_limit:
        return Reason.LIMIT_REACHED
    if reward.stock is not None and reward.stock <= 0:
        return Reason.OUT_OF_STOCK
    return None


def reward_min_points(reward: Reward) -> int:
    """The fewest points one redemption of the reward takes (what `affordable` compares with)."""
    if reward.kind == RewardKind.POINTS_DISCOUNT:
        return reward.min_points or 1
    return reward.points_cost


@dataclass(frozen=True)
class CatalogueEntry:
    reward: Reward
    eligible: bool | None = None
    affordable: bool | None = None
    reason: str | None = None


def catalogue_for_member(
    *, rewards: list[Reward], member: Member, available: int, now: dt.datetime | None = None
) -> list[CatalogueEntry]:
    """Each reward with `eligible`, `affordable` and `reason` for the member (three queries)."""
    now = now or timezone.now()
    tier_rank = member_tier_rank(member_id=member.pk)
    counts = member_redemption_counts(member_id=member.pk, reward_ids=[r.pk for r in rewards])
    entries = []
    for reward in rewards:
        reason = reward_ineligibility(
            reward=reward,
            member=member,
            tier_rank=tier_rank,
            redeemed=counts.get(reward.pk, 0),
            now=now,
        )
        entries.append(
            CatalogueEntry(
                reward=reward,
                eligible=reason is None,
                affordable=available >= reward_min_points(reward),
                reason=reason,
            )
        )
    return entries


def redemption_get(*, redemption_id) -> Redemption:
    redemption = (
        Redemption.objects.select_related("reward", "member").filter(pk=redemption_id).first()
    )
    if redemption is None:
        raise NotFound("redemption_not_found", gettext("No redemption with this id."))
    return redemption


def redemptions_for_member(*, member_id: int) -> QuerySet[Redemption]:
    return (
        Redemption.objects.filter(member_id=member_id)
        .select_related("reward")
        .order_by("-created_at", "-pk")
    )


def _status_filter(status: str, now: dt.datetime) -> Q:
    """Coupons whose status at `now` is `status` (`Redemption.status_at`, as a filter)."""
    issued = Q(status=RedemptionStatus.ISSUED)
    if status == RedemptionStatus.ISSUED:
        return issued & Q(expires_at__gt=now)
    if status == RedemptionStatus.EXPIRED:
        return Q(status=RedemptionStatus.EXPIRED) | (issued & Q(expires_at__lte=now))
    return Q(status=status)


def coupons_for_member(
    *, member_id: int, status: str | None = None, now: dt.datetime | None = None
) -> QuerySet[Redemption]:
    """The member's coupons, newest first; `status` as the member sees it at `now`."""
    coupons = redemptions_for_member(member_id=member_id)
    if status:
        coupons = coupons.filter(_status_filter(status, now or timezone.now()))
    return coupons


def coupon_get_for_member(*, code: str, member_id: int) -> Redemption:
    """The member's coupon with this code. Another member's coupon is not found, exactly like
    an unknown code, so a checkout cannot learn which codes exist."""
    coupon = (
        Redemption.objects.select_related("reward", "member")
        .filter(coupon_code=code.strip().upper(), member_id=member_id)
        .first()
    )
    if coupon is None:
        raise NotFound("coupon_not_found", "This member has no coupon with this code.")
    return coupon
