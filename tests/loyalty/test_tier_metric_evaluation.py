"""The daily evaluation on ladders that count orders or growth value: set-based (all members,
in batches, scoped as the import runs it, incremental) gives what evaluating each member one by
one gives, as `test_tiers_evaluation.py` checks for spend."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

import pytest
from django.utils import timezone

from loyalty.models import Tier, TierChange, TierEvaluationRun
from loyalty.services import tier_batches
from loyalty.services.tier_config import tier_save
from loyalty.services.tiers import tier_evaluate_all, tier_evaluate_member, tier_override
from tests.loyalty.test_tier_metric import bonus, ladder_make
from tests.loyalty.test_tiers_evaluation import _state, _tier_events
from tests.loyalty.tiers_helpers import changes, settings_set

DAY = dt.timedelta(days=1)

LADDERS = {
    # metric: (thresholds, sources, the lowered Silver threshold)
    "orders": (["2", "3", "5"], (), "1"),
    "growth_value": (["250", "500", "1000"], ("orders", "review"), "60"),
}


def _history(rng: random.Random) -> list[tuple]:
    """Orders (days ago, amount, refund) and review bonuses (days ago, points)."""
    orders = []
    for _ in range(rng.randint(0, 5)):
        amount = Decimal(rng.choice(["40.00", "120.00", "249.99", "250.00", "310.50"]))
        refund = rng.choice([None, None, None, (amount / 4).quantize(Decimal("0.01")), amount])
        orders.append((rng.randint(1, 700), amount, refund))
    orders.sort(key=lambda row: -row[0])
    reviews = sorted(
        (rng.randint(1, 700), rng.choice([20, 60, 150])) for _ in range(rng.randint(0, 3))
    )
    return orders, reviews[::-1]


def _twins(metric, make_member, record_order, record_refund, system_actor, *, count=30):
    """Pairs of members with identical random histories on a ladder counting `metric`; then
    Marketing lowers Silver's threshold (catch-up upgrades). Returns (pairs, now)."""
    thresholds, sources, lowered = LADDERS[metric]
    ladder_make(system_actor, metric, thresholds, sources=sources)
    settings_set(tier_hold_days=180)
    rng = random.Random(7)
    now = timezone.now().replace(microsecond=0)
    gold = Tier.objects.get(code="gold")
    pairs = []
    for i in range(count):
        orders, reviews = _history(rng)
        override_days = rng.choice([None, None, None, 5, 30])
        past_evaluation = rng.choice([None, 200, 400])
        twins = (make_member(), make_member())
        for side, twin in zip("AB", twins, strict=True):
            events = [(d, "order", j, row) for j, (d, *row) in enumerate(orders)]
            events += [(d, "review", j, (p,)) for j, (d, p) in enumerate(reviews)]
            for days_ago, kind, j, row in sorted(events, key=lambda e: (-e[0], e[1], e[2])):
                placed = now - days_ago * DAY
                if kind == "review":
                    bonus(twin, row[0], f"review:{side}{i}-{j}", at=placed, actor=system_actor)
                    continue
                order_id = f"{side}{i}-{j}"
                amount, refund = row
                record_order(twin, order_id, str(amount), placed_at=placed, now=placed)
                if refund:
                    record_refund(order_id, f"R{order_id}", str(refund), now=placed + DAY)
            if past_evaluation:
                tier_evaluate_member(
                    member_id=twin.pk, actor=system_actor, as_of=now - past_evaluation * DAY
                )
            if override_days:
                tier_override(
                    member=twin,
                    tier=gold,
                    until=timezone.localdate(now) + override_days * DAY,
                    reason="Match",
                    actor=system_actor,
                )
        pairs.append(twins)
    silver = Tier.objects.get(code="silver")
    tier_save(
        actor=system_actor,
        tier=silver,
        code="silver",
        name="Silver",
        rank=1,
        threshold=Decimal(lowered),
        multiplier=silver.multiplier,
    )
    return pairs, now


@pytest.mark.parametrize("metric", ["orders", "growth_value"])
def test_set_based_evaluation_in_batches_equals_evaluating_members_one_by_one(
    metric, db, make_member, record_order, record_refund, system_actor, monkeypatch
):
    # given: twin cohorts A and B with identical histories; batches of 4
    monkeypatch.setattr(tier_batches, "BATCH_SIZE", 4)
    pairs, now = _twins(metric, make_member, record_order, record_refund, system_actor)
    as_of = now + 20 * DAY
    members = [m for pair in pairs for m in pair]
    before = {m.pk: len(changes(m)) for m in members}
    before_events = {m.pk: len(_tier_events(m)) for m in members}

    # when: cohort B one by one, then everyone set-based (B again: nothing left to do)
    for _, b in pairs:
        tier_evaluate_member(member_id=b.pk, actor=system_actor, as_of=as_of)
    written = tier_evaluate_all(as_of=as_of, actor=system_actor)

    # then: the same states, history (with the figure) and events on both sides
    for a, b in pairs:
        assert _state(a) == _state(b)
        assert changes(a)[before[a.pk] :] == changes(b)[before[b.pk] :]
        assert _figures(a)[before[a.pk] :] == _figures(b)[before[b.pk] :]
        assert _tier_events(a)[before_events[a.pk] :] == _tier_events(b)[before_events[b.pk] :]
    new = TierChange.objects.filter(member__in=[a for a, _ in pairs], at=as_of)
    assert written == new.count()
    kinds = {kind: new.filter(kind=kind).count() for kind in TierChange.Kind.values}
    assert min(kinds["upgrade"], kinds["downgrade"], kinds["override_lapsed"]) > 0, kinds
    figures = new.exclude(kind="override_lapsed")
    assert not figures.filter(qualifying_value__isnull=True).exists()
    assert not new.filter(qualifying_spend__isnull=False).exists()
    assert TierEvaluationRun.objects.get().batches > 1
    assert tier_evaluate_all(as_of=as_of, actor=system_actor) == 0


@pytest.mark.parametrize("metric", ["orders", "growth_value"])
def test_the_scoped_evaluation_as_the_import_runs_it_equals_one_by_one(
    metric, db, make_member, record_order, record_refund, system_actor
):
    pairs, now = _twins(metric, make_member, record_order, record_refund, system_actor, count=20)
    as_of = now + 20 * DAY
    before = {m.pk: len(changes(m)) for pair in pairs for m in pair}
    for _, b in pairs:
        tier_evaluate_member(member_id=b.pk, actor=system_actor, as_of=as_of, kind="import")
    ids = ", ".join(str(a.pk) for a, _ in pairs)
    tier_evaluate_all(
        as_of=as_of,
        actor=system_actor,
        kind="import",
        member_ids_sql=f"SELECT m.id FROM members_member m WHERE m.id IN ({ids})",
        events=False,
    )
    for a, b in pairs:
        assert _state(a) == _state(b)
        assert changes(a)[before[a.pk] :] == changes(b)[before[b.pk] :]
    assert TierChange.objects.filter(kind="import", at=as_of).count() > 0


@pytest.mark.parametrize("metric", ["orders", "growth_value"])
def test_the_incremental_run_leaves_nothing_for_a_full_run(
    metric, db, make_member, record_order, record_refund, system_actor
):
    # given: a first (full) run, then a day of orders and reviews
    pairs, now = _twins(metric, make_member, record_order, record_refund, system_actor, count=15)
    tier_evaluate_all(as_of=now, actor=system_actor)
    busy = [a for a, _ in pairs[:6]]
    for n, member in enumerate(busy):
        at = now + DAY / 2
        if n % 2:
            bonus(member, 300, f"review:day-{n}", at=at, actor=system_actor)
        else:
            for k in range(3):
                record_order(member, f"DAY-{n}-{k}", "300.00", placed_at=at, now=at)

    # when: the incremental run of the next day
    tier_evaluate_all(as_of=now + DAY, actor=system_actor)
    run = TierEvaluationRun.objects.order_by("-pk").first()

    # then: incremental, and a full run for the same moment has nothing left to do
    assert run.full is False
    assert tier_evaluate_all(as_of=now + DAY, actor=system_actor, full=True) == 0


def _figures(member) -> list:
    return list(
        TierChange.objects.filter(member=member)
        .order_by("at", "pk")
        .values_list("qualifying_value", flat=True)
    )
