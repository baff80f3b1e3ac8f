"""What-if: what a change to the tier ladder would do on today's data, before it is published.

For a proposed ladder (the current one with some thresholds, multipliers or ranks changed, or a
tier added; on the program's tier metric, or another one proposed with it) it computes, for
every member not erased:
- the tier held now (an active override counts as the tier held) and the tier held after the
  change as the next daily evaluation would decide it: up at once to the highest tier the window's
  figure (spend, orders or growth value: `loyalty.selectors.tier_metric`) meets, down only
  when the hold has ended; overrides unchanged;
- members per tier before and after, how many move up and how many move down now;
- how many would sit below their tier's threshold, kept only by the hold, before and after
  (they drop when the hold ends unless they spend);
- the yearly points cost of tier bonuses, before and after: Σ over members of
  floor(floor(spend of the last 365 days × earn_rate) × (multiplier − 1)), the rules' tier bonus
  applied to a year of each member's spend as if it were one order, and its value at
  `point_value`.

It reads each member's spend once (two aggregates) and runs the rules in Python: it is an admin
page's read, not the daily job.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, Decimal

from django.utils import timezone

from loyalty.models import MemberTier, Tier
from loyalty.models.program import TierMetric
from loyalty.selectors.program import program_settings
from loyalty.selectors.tier_metric import Metric, ladder_metric, metric_by_member
from loyalty.selectors.tiers import (
    CENT,
    ZERO,
    Window,
    hold_cutoff,
    qualification_window,
    tier_decision,
)
from members.models import Member


@dataclass(frozen=True)
class LadderTier:
    """One tier of a proposed ladder; `tier_id` is None for a tier being added."""

    tier_id: int | None
    code: str
    name: str
    rank: int
    threshold: Decimal
    multiplier: Decimal


@dataclass
class WhatIfRow:
    code: str
    name: str
    rank: int
    threshold_before: Decimal | None
    threshold_after: Decimal
    multiplier_before: Decimal | None
    multiplier_after: Decimal
    members_before: int = 0
    members_after: int = 0

    @property
    def changed(self) -> bool:
        return (self.threshold_before, self.multiplier_before) != (
            self.threshold_after,
            self.multiplier_after,
        )


@dataclass
class WhatIf:
    as_of: dt.datetime
    members: int
    rows: list[WhatIfRow] = field(default_factory=list)
    moves_up: int = 0
    moves_down: int = 0
    below_threshold_before: int = 0
    below_threshold_after: int = 0
    cost_before: int = 0
    cost_after: int = 0
    point_value: Decimal = Decimal("0.01")
    currency: str = "GBP"

    @property
    def cost_before_value(self) -> Decimal:
        return (self.cost_before * self.point_value).quantize(CENT)

    @property
    def cost_after_value(self) -> Decimal:
        return (self.cost_after * self.point_value).quantize(CENT)

    @property
    def cost_change(self) -> int:
        return self.cost_after - self.cost_before


def current_ladder() -> list[LadderTier]:
    return [
        LadderTier(t.pk, t.code, t.name, t.rank, t.threshold, t.multiplier)
        for t in Tier.objects.order_by("rank")
    ]


def ladder_with(change: LadderTier) -> list[LadderTier]:
    """The current ladder with one tier changed (same `tier_id`) or added (`tier_id` None)."""
    ladder = [t for t in current_ladder() if change.tier_id is None or t.tier_id != change.tier_id]
    return sorted([*ladder, change], key=lambda t: t.rank)


def _spend_by_member(window: Window) -> dict[int, Decimal]:
    return metric_by_member(window=window, metric=Metric(TierMetric.SPEND))


def _highest(ladder: list[LadderTier], spend: Decimal) -> LadderTier:
    met = [t for t in ladder if t.threshold <= spend]
    return max(met, key=lambda t: t.rank) if met else ladder[0]


def _bonus(yearly_spend: Decimal, earn_rate: Decimal, multiplier: Decimal) -> int:
    base = (yearly_spend * earn_rate).to_integral_value(rounding=ROUND_FLOOR)
    return max(int((base * (multiplier - 1)).to_integral_value(rounding=ROUND_FLOOR)), 0)


def tier_what_if(
    *, proposed: list[LadderTier], as_of: dt.datetime | None = None, metric: Metric | None = None
) -> WhatIf:
    """Figures for publishing `proposed` (a whole ladder, entry tier first) now; `metric`: the
    metric it would count (default: the program's, `loyalty.selectors.tier_metric`)."""
    as_of = as_of or timezone.now()
    settings = program_settings()
    metric = metric or ladder_metric(settings)
    today = timezone.localdate(as_of)
    before = current_ladder()
    proposed = sorted(proposed, key=lambda t: t.rank)
    window = qualification_window(as_of=as_of, qualification=settings.qualification)
    # The ladder's figure per member (what the thresholds count); the cost is on spend.
    spend = metric_by_member(window=window, metric=metric)
    if window.calendar_year or not metric.money:
        yearly_window = qualification_window(as_of=as_of, qualification="rolling_365")
        yearly = _spend_by_member(yearly_window)
    else:
        yearly = spend
    cutoff = hold_cutoff(today=today, hold_days=settings.tier_hold_days)
    erased = set(Member.objects.filter(status=Member.Status.ERASED).values_list("pk", flat=True))
    rows = {
        r["member_id"]: r
        for r in MemberTier.objects.values(
            "member_id", "tier_id", "qualified_at", "override_tier_id", "override_until"
        )
    }
    total = Member.objects.exclude(status=Member.Status.ERASED).count()
    result = WhatIf(
        as_of=as_of,
        members=total,
        point_value=settings.point_value,
        currency=settings.currency,
    )
    if not proposed:
        return result
    by_id_before = {t.tier_id: t for t in before}
    by_id_after = {t.tier_id: t for t in proposed if t.tier_id is not None}
    entry_before = before[0] if before else None
    entry_after = proposed[0]
    count_before: dict[int | str, int] = {}
    count_after: dict[int | str, int] = {}

    def key(tier: LadderTier) -> int | str:
        return tier.tier_id if tier.tier_id is not None else f"new:{tier.code}"

    members = (set(spend) | set(rows)) - erased
    for member_id in members:
        row = rows.get(member_id)
        member_spend = spend.get(member_id, ZERO if metric.money else 0)
        earned_id = row["tier_id"] if row else (entry_before.tier_id if entry_before else None)
        override_id = None
        if row and row["override_tier_id"] is not None and row["override_until"] >= today:
            override_id = row["override_tier_id"]
        # Before: what is held now, on the current ladder.
        earned_before = by_id_before.get(earned_id) if earned_id else None
        held_before = by_id_before.get(override_id) if override_id else earned_before
        # After: the current earned tier placed on the proposed ladder, then the evaluation.
        earned_now = by_id_after.get(earned_id, entry_after)
        target = _highest(proposed, member_spend)
        expired = row is not None and row["qualified_at"] < cutoff
        decision = tier_decision(
            current_rank=earned_now.rank, target_rank=target.rank, hold_expired=expired
        )
        earned_after = target if decision in ("up", "down") else earned_now
        held_after = by_id_after.get(override_id, earned_after) if override_id else earned_after

        if held_before is not None:
            count_before[key(held_before)] = count_before.get(key(held_before), 0) + 1
        count_after[key(held_after)] = count_after.get(key(held_after), 0) + 1
        rank_before = by_id_after.get(held_before.tier_id, held_before).rank if held_before else 0
        if held_after.rank > rank_before:
            result.moves_up += 1
        elif held_after.rank < rank_before:
            result.moves_down += 1
        if earned_before and earned_before.rank > 0 and member_spend < earned_before.threshold:
            result.below_threshold_before += 1
        if earned_after.rank > 0 and member_spend < earned_after.threshold:
            result.below_threshold_after += 1
        year = yearly.get(member_id, ZERO)
        if held_before is not None:
            result.cost_before += _bonus(year, settings.earn_rate, held_before.multiplier)
        result.cost_after += _bonus(year, settings.earn_rate, held_after.multiplier)

    # Members with no order in the window and no tier row hold the entry tier either way.
    quiet = total - len(members)
    if entry_before is not None:
        count_before[key(entry_before)] = count_before.get(key(entry_before), 0) + quiet
    count_after[key(entry_after)] = count_after.get(key(entry_after), 0) + quiet

    codes_after = {t.tier_id for t in proposed}
    for tier in sorted(
        [*proposed, *(t for t in before if t.tier_id not in codes_after)], key=lambda t: t.rank
    ):
        old = by_id_before.get(tier.tier_id) if tier.tier_id is not None else None
        result.rows.append(
            WhatIfRow(
                code=tier.code,
                name=tier.name,
                rank=tier.rank,
                threshold_before=old.threshold if old else None,
                threshold_after=tier.threshold,
                multiplier_before=old.multiplier if old else None,
                multiplier_after=tier.multiplier,
                members_before=count_before.get(key(tier), 0),
                members_after=count_after.get(key(tier), 0),
            )
        )
    return result
