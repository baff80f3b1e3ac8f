"""Personal suggestions: up to N rewards ranked for one member, each with reasons a customer
understands. Simple and deterministic: a score from fixed weights, no model to train.

Candidates: the rewards live now that the member may redeem, or may once they reach the
reward's tier. Rewards the member cannot redeem for another reason (a segment they are not in,
their limit reached, out of stock, a suspended member) are left out.

Score (higher first; ties: fewer points, then the code), and the reason each signal gives:

- the balance covers it: 1000, `redeem_now` "You can redeem this now.";
- it does not yet: 500 × balance ÷ cost, `points_to_go` "60 points to go.";
- the member's tier is too low: 100, `tier` "Only for Gold: you are 40.00 away." (the
  qualifying spend still needed);
- points expire within 30 days and it is affordable: +300, `expiring` "120 of your points
  expire by 2026-07-01: spend them here.";
- its category is one the member buys: +200, `category` "Members who buy Home & Garden
  choose this.";
- redeemed by members of the same RFM group in the last 90 days: +min(n, 100), `popular`
  "Popular with members like you.".

Reasons are listed in the table's order; codes stay English, sentences are translated.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Count, Max, Sum
from django.utils import timezone
from django.utils.translation import gettext

from loyalty.models import Account, Lot
from loyalty.selectors.tiers import member_tier_summary
from members.models import Member
from rewards.models import Redemption, Reward
from rewards.selectors import (
    COUNTED_STATUSES,
    Reason,
    member_redemption_counts,
    member_tier_rank,
    reward_ineligibility,
    reward_min_points,
    rewards_catalogue,
)
from segments.models import MemberProduct, MemberStats

DEFAULT_LIMIT = 5
MAX_LIMIT = 20
EXPIRING_DAYS = 30
POPULAR_DAYS = 90


@dataclass
class Suggestion:
    reward: Reward
    score: int
    reasons: list[dict] = field(default_factory=list)

    def reason(self, code: str, text: str) -> None:
        self.reasons.append({"code": code, "text": text})


@dataclass(frozen=True)
class _Member:
    available: int
    expiring: int
    expiring_by: dt.date | None
    categories: frozenset[str]
    rfm_group: str
    qualifying: Decimal | None


def _member_facts(member: Member, now: dt.datetime) -> _Member:
    account = Account.objects.filter(member_id=member.pk).values_list("available", flat=True)
    # The points that expire within the window, and the day the last of them does.
    lots = Lot.objects.filter(
        member_id=member.pk,
        matured=True,
        remaining__gt=0,
        expires_at__gt=now,
        expires_at__lte=now + dt.timedelta(days=EXPIRING_DAYS),
    ).aggregate(points=Sum("remaining"), last=Max("expires_at"))
    categories = MemberProduct.objects.filter(
        member_id=member.pk, kind=MemberProduct.Kind.CATEGORY
    ).values_list("value", flat=True)
    group = MemberStats.objects.filter(member_id=member.pk).values_list("rfm_group", flat=True)
    progress = member_tier_summary(member, as_of=now)["progress"]
    return _Member(
        available=account.first() or 0,
        expiring=lots["points"] or 0,
        expiring_by=timezone.localdate(lots["last"]) if lots["last"] else None,
        categories=frozenset(categories),
        rfm_group=group.first() or "",
        qualifying=Decimal(progress["qualifying_spend"]) if progress else None,
    )


def _popularity(group: str, now: dt.datetime) -> dict[int, int]:
    """Per reward: redemptions in the last 90 days by members of the RFM group."""
    if not group:
        return {}
    rows = (
        Redemption.objects.filter(
            status__in=COUNTED_STATUSES,
            created_at__gte=now - dt.timedelta(days=POPULAR_DAYS),
            member__segment_stats__rfm_group=group,
        )
        .values("reward_id")
        .annotate(n=Count("pk"))
        .order_by()
    )
    return {row["reward_id"]: row["n"] for row in rows}


def _suggest(reward: Reward, facts: _Member, popular: dict[int, int], tier_locked: bool):
    cost = reward_min_points(reward)
    if tier_locked:
        s = Suggestion(reward=reward, score=100)
        tier = reward.min_tier
        if facts.qualifying is not None:
            away = max(tier.threshold - facts.qualifying, Decimal("0"))
            s.reason(
                "tier",
                gettext("Only for %(tier)s: you are %(amount)s away.")
                % {"tier": tier.name, "amount": f"{away:.2f}"},
            )
        else:
            s.reason("tier", gettext("Only for %(tier)s.") % {"tier": tier.name})
    elif facts.available >= cost:
        s = Suggestion(reward=reward, score=1000)
        s.reason("redeem_now", gettext("You can redeem this now."))
        if facts.expiring:
            s.score += 300
            s.reason(
                "expiring",
                gettext("%(points)s of your points expire by %(date)s: spend them here.")
                % {"points": facts.expiring, "date": facts.expiring_by.isoformat()},
            )
    else:
        s = Suggestion(reward=reward, score=500 * facts.available // max(cost, 1))
        s.reason(
            "points_to_go",
            gettext("%(points)s points to go.") % {"points": cost - facts.available},
        )
    if reward.category and reward.category in facts.categories:
        s.score += 200
        s.reason(
            "category",
            gettext("Members who buy %(category)s choose this.") % {"category": reward.category},
        )
    if popular.get(reward.pk):
        s.score += min(popular[reward.pk], 100)
        s.reason("popular", gettext("Popular with members like you."))
    return s


def member_suggestions(
    *, member: Member, limit: int = DEFAULT_LIMIT, now: dt.datetime | None = None
) -> list[Suggestion]:
    """The member's suggestions, best first (a fixed number of queries, whatever the catalogue)."""
    now = now or timezone.now()
    rewards = [r for r in rewards_catalogue(now=now) if r.is_live(now)]
    if not rewards:
        return []
    facts = _member_facts(member, now)
    popular = _popularity(facts.rfm_group, now)
    tier_rank = member_tier_rank(member_id=member.pk)
    counts = member_redemption_counts(member_id=member.pk, reward_ids=[r.pk for r in rewards])
    suggestions = []
    for reward in rewards:
        reason = reward_ineligibility(
            reward=reward,
            member=member,
            tier_rank=tier_rank,
            redeemed=counts.get(reward.pk, 0),
            now=now,
        )
        if reason not in (None, Reason.TIER_TOO_LOW):
            continue
        suggestions.append(_suggest(reward, facts, popular, reason == Reason.TIER_TOO_LOW))
    suggestions.sort(key=lambda s: (-s.score, reward_min_points(s.reward), s.reward.code))
    return suggestions[:limit]
