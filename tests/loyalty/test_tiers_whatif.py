"""What-if before publishing a ladder change, against a case computed by hand."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from loyalty.demo import demo_tiers_ensure
from loyalty.models import Tier
from loyalty.selectors.tier_whatif import LadderTier, ladder_with, tier_what_if
from tests.loyalty.conftest import T0

DAY = dt.timedelta(days=1)
AS_OF = T0 + 10 * DAY


@pytest.fixture
def ladder(db, system_actor):
    return demo_tiers_ensure(actor=system_actor)


@pytest.fixture
def population(ladder, make_member, record_order, record_refund):
    """Earn rate 1. Members by spend in the window (and the tier they hold now):

    A 100 (Member) · B 400 (Silver) · C 600 (Gold) · D 1200 (Platinum) · E none (Member)
    F 500 refunded to 350 (Gold, kept by the hold) · H 1000 placed 400 days ago (Platinum,
    hold over, nothing left in the window: due to drop to Member)
    """
    spends = {"A": "100.00", "B": "400.00", "C": "600.00", "D": "1200.00", "F": "500.00"}
    members = {}
    for name in "ABCDEFH":
        members[name] = make_member(external_id=f"M-{name}")
    for name, amount in spends.items():
        record_order(members[name], f"O-{name}", amount, placed_at=T0)
    record_refund("O-F", "R-F", "150.00", now=T0 + DAY)
    old = AS_OF - 400 * DAY
    record_order(members["H"], "O-H", "1000.00", placed_at=old, now=old)
    return members


def test_what_if_lowering_gold_and_raising_its_multiplier(population):
    gold = Tier.objects.get(code="gold")
    proposed = ladder_with(
        LadderTier(gold.pk, "gold", "Gold", 2, Decimal("350.00"), Decimal("1.75"))
    )

    result = tier_what_if(proposed=proposed, as_of=AS_OF)

    assert result.members == 7
    assert [(r.code, r.members_before, r.members_after) for r in result.rows] == [
        ("member", 2, 3),  # A, E | A, E, H
        ("silver", 1, 0),  # B | -
        ("gold", 2, 3),  # C, F | B, C, F
        ("platinum", 2, 1),  # D, H | D
    ]
    assert (result.moves_up, result.moves_down) == (1, 1)  # B up; H down (its hold is over)
    # Below the tier's threshold, kept by the hold: F (350 < 500) and H (0 < 1000) | none.
    assert (result.below_threshold_before, result.below_threshold_after) == (2, 0)
    # Before: B 400×0.25=100, C 600×0.5=300, D 1200×1=1200, F 350×0.5=175 -> 1775.
    # After: B 400×0.75=300, C 600×0.75=450, D 1200, F floor(350×0.75)=262 -> 2212.
    assert (result.cost_before, result.cost_after, result.cost_change) == (1775, 2212, 437)
    assert (result.cost_before_value, result.cost_after_value) == (
        Decimal("17.75"),
        Decimal("22.12"),
    )
    gold_row = result.rows[2]
    assert (gold_row.threshold_before, gold_row.threshold_after, gold_row.changed) == (
        Decimal("500.00"),
        Decimal("350.00"),
        True,
    )


def test_what_if_adding_a_tier(population):
    proposed = ladder_with(
        LadderTier(None, "diamond", "Diamond", 4, Decimal("1100.00"), Decimal("2.50"))
    )

    result = tier_what_if(proposed=proposed, as_of=AS_OF)

    assert [(r.code, r.members_before, r.members_after) for r in result.rows][-2:] == [
        ("platinum", 2, 0),
        ("diamond", 0, 1),
    ]
    # D moves up to Diamond: 1200 × 1.5 = 1800 instead of 1200; H moves down.
    assert (result.moves_up, result.moves_down) == (1, 1)
    assert (result.cost_before, result.cost_after) == (1775, 2375)


def test_what_if_without_a_change_moves_only_what_the_evaluation_would(population):
    result = tier_what_if(proposed=ladder_with(_same("silver")), as_of=AS_OF)

    assert (result.moves_up, result.moves_down) == (0, 1)
    assert (result.cost_before, result.cost_after) == (1775, 1775)


def _same(code: str) -> LadderTier:
    tier = Tier.objects.get(code=code)
    return LadderTier(tier.pk, tier.code, tier.name, tier.rank, tier.threshold, tier.multiplier)
