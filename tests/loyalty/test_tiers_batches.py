"""The evaluation of many members in batches, and incrementally: the same result as evaluating
everyone in one go, member by member."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from loyalty.demo import demo_tiers_ensure
from loyalty.models import Tier, TierChange, TierEvaluationRun
from loyalty.services import tier_batches
from loyalty.services.tier_config import tier_save
from loyalty.services.tiers import tier_evaluate_all, tier_evaluate_member, tier_override
from tests.loyalty.test_tiers_evaluation import _state, _tier_events, _twin_cohorts
from tests.loyalty.tiers_helpers import changes, held, order_row, settings_set

DAY = dt.timedelta(days=1)


@pytest.fixture
def ladder(db, system_actor):
    return demo_tiers_ensure(actor=system_actor)


def test_small_batches_give_the_result_of_evaluating_members_one_by_one(
    ladder, make_member, record_order, record_refund, system_actor, monkeypatch
):
    # given: twin cohorts A and B with identical histories, and batches of 3 members
    monkeypatch.setattr(tier_batches, "BATCH_SIZE", 3)
    pairs, now = _twin_cohorts(
        make_member, record_order, record_refund, system_actor, pairs_count=20
    )
    as_of = now + 20 * DAY
    before = {m.pk: len(changes(m)) for pair in pairs for m in pair}
    before_events = {m.pk: len(_tier_events(m)) for pair in pairs for m in pair}

    # when: cohort B one by one, then everyone in batches
    for _, b in pairs:
        tier_evaluate_member(member_id=b.pk, actor=system_actor, as_of=as_of)
    written = tier_evaluate_all(as_of=as_of, actor=system_actor)

    # then: the same states, history and events on both sides; several batches ran
    for a, b in pairs:
        assert _state(a) == _state(b)
        assert changes(a)[before[a.pk] :] == changes(b)[before[b.pk] :]
        assert _tier_events(a)[before_events[a.pk] :] == _tier_events(b)[before_events[b.pk] :]
    assert written == TierChange.objects.filter(member__in=[a for a, _ in pairs], at=as_of).count()
    run = TierEvaluationRun.objects.get()
    assert (run.full, run.changes) == (True, written)
    assert run.batches == -(-run.members // 3) > 1


def _quiet_members(make_member, count: int, now: dt.datetime) -> list:
    """Members with spend in the window and nothing to do for months (no hold ending)."""
    members = []
    for n in range(count):
        member = make_member()
        order_row(member, f"Q-{n}", "600.00", placed_at=now - 100 * DAY)
        members.append(member)
    return members


def test_the_incremental_run_evaluates_only_those_due_and_leaves_nothing_for_a_full_run(
    ladder, make_member, record_order, system_actor
):
    # given: a first (full) run as of day D (now), after which everyone is settled
    settings_set(tier_hold_days=30)
    day = timezone.now().replace(microsecond=0)
    quiet = _quiet_members(make_member, 6, day)
    hold_ends = make_member()  # Gold since D - 25 (a late order); nothing left by D + 10
    record_order(hold_ends, "H-1", "500.00", placed_at=day - 360 * DAY, now=day - 25 * DAY)
    lapses = make_member()  # an override that ends on D + 5
    tier_override(
        member=lapses,
        tier=Tier.objects.get(code="gold"),
        until=timezone.localdate(day) + 5 * DAY,
        reason="Status match",
        actor=system_actor,
    )
    placed_later = make_member()  # an order placed on D + 3, known before the first run
    order_row(placed_later, "P-1", "300.00", placed_at=day + 3 * DAY)
    assert tier_evaluate_all(as_of=day, actor=system_actor) == len(quiet)
    first = TierEvaluationRun.objects.get()
    assert first.full is True
    assert held(hold_ends) == "gold"

    # and after it: an order recorded without the order path (back-dated), and a member moved
    # down by a one-member evaluation far ahead, who is owed Gold again as of D + 10
    backdated = make_member()
    order_row(backdated, "B-1", "260.00", placed_at=day - 2 * DAY)
    moved_down = quiet[0]
    tier_evaluate_member(member_id=moved_down.pk, actor=system_actor, as_of=day + 400 * DAY)
    assert held(moved_down) == "member"

    # when: the next run, as of D + 10
    as_of = day + 10 * DAY
    written = tier_evaluate_all(as_of=as_of, actor=system_actor)

    # then: only the members due were planned, each got its change
    run = TierEvaluationRun.objects.latest("pk")
    assert (run.full, run.members, run.changes) == (False, 5, written)
    new = {
        c.member_id: (c.from_tier.code if c.from_tier else None, c.to_tier.code, c.kind)
        for c in TierChange.objects.filter(at=run.as_of).select_related("from_tier", "to_tier")
    }
    assert new == {
        hold_ends.pk: ("gold", "member", "downgrade"),
        lapses.pk: ("gold", "member", "override_lapsed"),
        placed_later.pk: ("member", "silver", "upgrade"),
        backdated.pk: ("member", "silver", "upgrade"),
        moved_down.pk: ("member", "gold", "upgrade"),
    }
    # and the next run for the same moment plans nobody (the last run's own changes do not
    # count), and a full run finds nothing left to do
    assert tier_evaluate_all(as_of=as_of, actor=system_actor) == 0
    assert TierEvaluationRun.objects.latest("pk").members == 0
    assert tier_evaluate_all(as_of=as_of, actor=system_actor, full=True) == 0
    assert TierEvaluationRun.objects.latest("pk").full is True


def test_a_new_threshold_or_an_earlier_moment_makes_the_next_run_full(
    ladder, make_member, system_actor
):
    # given: a first run; then Marketing lowers Silver to 200.00
    now = timezone.now()
    member = make_member()
    order_row(member, "O-1", "220.00", placed_at=now - 100 * DAY)
    assert tier_evaluate_all(actor=system_actor) == 0
    silver = Tier.objects.get(code="silver")
    tier_save(
        actor=system_actor,
        tier=silver,
        code="silver",
        name="Silver",
        rank=1,
        threshold=Decimal("200.00"),
        multiplier=silver.multiplier,
    )

    # when / then: the next run evaluates everyone (nothing else marks the member as due)
    assert tier_evaluate_all(actor=system_actor) == 1
    assert held(member) == "silver"
    assert [r.full for r in TierEvaluationRun.objects.order_by("pk")] == [True, True]
    # an incremental run next; a run for an earlier moment is full again
    assert tier_evaluate_all(actor=system_actor) == 0
    assert tier_evaluate_all(as_of=now - 50 * DAY, actor=system_actor) == 0
    assert [r.full for r in TierEvaluationRun.objects.order_by("pk")] == [
        True,
        True,
        False,
        True,
    ]


def test_catch_up_days_one_after_the_other_equal_a_full_run_each_day(
    ladder, make_member, record_order, record_refund, system_actor
):
    # given: Gold members (420.00 left after a refund) whose holds end on different days; one
    # of them has an order placed in between, which brings them back to Gold's threshold
    settings_set(tier_hold_days=10)
    start = timezone.now().replace(microsecond=0) - 30 * DAY
    members = [make_member() for _ in range(5)]
    for n, member in enumerate(members):
        placed = start - (8 - n) * DAY
        record_order(member, f"O-{n}", "520.00", placed_at=placed, now=placed)
        record_refund(f"O-{n}", f"R-{n}", "100.00", now=placed + dt.timedelta(hours=1))
    order_row(members[4], "O-later", "100.00", placed_at=start + 3 * DAY)
    assert tier_evaluate_all(as_of=start, actor=system_actor) == 0

    # when: the days are caught up one by one (as `run_daily_jobs --as-of` each day does),
    # each run starting from the one before
    downgraded_on = {}
    for offset in range(1, 8):
        written = tier_evaluate_all(
            as_of=timezone.localdate(start + offset * DAY), actor=system_actor
        )
        assert TierEvaluationRun.objects.latest("pk").full is False
        for member in members:
            if held(member) != "gold" and member.pk not in downgraded_on:
                downgraded_on[member.pk] = offset
        assert written == sum(1 for o in downgraded_on.values() if o == offset)

    # then: each hold ended on its own day; the member with the later order qualified again
    assert [downgraded_on.get(m.pk) for m in members] == [3, 4, 5, 6, None]
    assert [held(m) for m in members] == ["silver"] * 4 + ["gold"]
    # and a full run of the last day finds nothing the incremental runs left
    last = timezone.localdate(start + 7 * DAY)
    assert tier_evaluate_all(as_of=last, actor=system_actor, full=True) == 0


def test_run_daily_jobs_evaluates_everyone_with_full_tiers_and_only_those_due_without(
    ladder, make_member
):
    from django.core.management import call_command

    # given: a member owed Silver (an order the order path never saw)
    member = make_member()
    order_row(member, "O-1", "300.00", placed_at=timezone.now() - DAY)

    # when: the daily jobs run three times: plain (the first run: full), with --full-tiers,
    # then plain again
    for extra in ([], ["--full-tiers"], []):
        call_command("run_daily_jobs", "--no-progress", *extra)

    # then
    runs = TierEvaluationRun.objects.order_by("pk")
    assert [(r.full, r.changes) for r in runs] == [(True, 1), (True, 0), (False, 0)]
    assert held(member) == "silver"
