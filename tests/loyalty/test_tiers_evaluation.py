"""The set-based daily evaluation against the one-member evaluation, and under concurrency."""

from __future__ import annotations

import datetime as dt
import random
import threading
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.utils import timezone

from config.errors import ServiceError
from events.models import Event
from loyalty import hooks
from loyalty.demo import demo_tiers_ensure
from loyalty.models import MemberTier, Tier, TierChange, TierEvaluationRun
from loyalty.services import tier_batches
from loyalty.services.ledger import account_lock
from loyalty.services.tier_config import tier_save
from loyalty.services.tiers import tier_evaluate_all, tier_evaluate_member, tier_override
from tests.loyalty.conftest import T0
from tests.loyalty.tiers_helpers import changes, held, settings_set

DAY = dt.timedelta(days=1)


@pytest.fixture
def ladder(db, system_actor):
    return demo_tiers_ensure(actor=system_actor)


def _state(member) -> tuple:
    row = MemberTier.objects.filter(member=member).select_related("tier", "override_tier").first()
    if row is None:
        return None
    return (
        row.tier.code,
        # A row an override created starts at enrolment, which differs between twins.
        "enrolment" if row.since == member.enrolled_at else row.since,
        "enrolment" if row.qualified_at == member.enrolled_at else row.qualified_at,
        row.override_tier.code if row.override_tier else None,
        row.override_until,
        row.override_reason,
    )


def _twin_history(rng: random.Random) -> list[tuple]:
    """A random member history: orders (days ago, amount, refund) over the last two years."""
    history = []
    for _ in range(rng.randint(0, 5)):
        amount = Decimal(rng.choice(["40.00", "120.00", "249.99", "250.00", "310.50", "700.00"]))
        refund = rng.choice([None, None, None, (amount / 4).quantize(Decimal("0.01")), amount])
        history.append((rng.randint(1, 700), amount, refund))
    history.sort(key=lambda row: -row[0])
    return history


def _twin_cohorts(make_member, record_order, record_refund, system_actor, *, pairs_count=40):
    """Pairs of members (A, B) with identical random histories, built through the services
    (orders, refunds, past evaluations, overrides); then Marketing lowers Silver's threshold, so
    an evaluation also has catch-up upgrades to make. Returns (pairs, now)."""
    settings_set(tier_hold_days=180)
    rng = random.Random(4)
    now = timezone.now().replace(microsecond=0)
    gold = Tier.objects.get(code="gold")
    pairs = []
    for i in range(pairs_count):
        history = _twin_history(rng)
        override_days = rng.choice([None, None, None, 5, 30])
        past_evaluation = rng.choice([None, 200, 400])
        twins = (make_member(), make_member())
        for side, twin in zip("AB", twins, strict=True):
            for j, (days_ago, amount, refund) in enumerate(history):
                placed = now - days_ago * DAY
                order_id = f"{side}{i}-{j}"
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
    # Marketing lowers Silver's threshold: the evaluation upgrades those it now admits.
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
    return pairs, now


def test_set_based_evaluation_equals_evaluating_members_one_by_one(
    ladder, make_member, record_order, record_refund, system_actor
):
    # given: twin cohorts A and B with identical histories, built through the services
    pairs, now = _twin_cohorts(make_member, record_order, record_refund, system_actor)
    as_of = now + 20 * DAY
    before = {m.pk: TierChange.objects.filter(member=m).count() for pair in pairs for m in pair}
    before_events = {m.pk: len(_tier_events(m)) for pair in pairs for m in pair}

    # when: cohort B one by one, then everyone set-based (B again: nothing left to do)
    for _, b in pairs:
        tier_evaluate_member(member_id=b.pk, actor=system_actor, as_of=as_of)
    after_b = {b.pk: TierChange.objects.filter(member=b).count() for _, b in pairs}
    written = tier_evaluate_all(as_of=as_of, actor=system_actor)

    # then: the same states, the same history and the same `tier.changed` events on both sides
    for a, b in pairs:
        assert _state(a) == _state(b)
        assert changes(a)[before[a.pk] :] == changes(b)[before[b.pk] :]
        assert TierChange.objects.filter(member=b).count() == after_b[b.pk]
        assert _tier_events(a)[before_events[a.pk] :] == _tier_events(b)[before_events[b.pk] :]
        assert len(_tier_events(a)) - before_events[a.pk] == len(changes(a)) - before[a.pk]
    new = TierChange.objects.filter(member__in=[a for a, _ in pairs], at=as_of)
    assert written == new.count()
    kinds = {kind: new.filter(kind=kind).count() for kind in TierChange.Kind.values}
    # The scenario exercises every kind the evaluation writes (so this test can fail).
    assert kinds["upgrade"] + kinds["downgrade"] + kinds["override_lapsed"] == written
    assert min(kinds["upgrade"], kinds["downgrade"], kinds["override_lapsed"]) > 0, kinds
    assert tier_evaluate_all(as_of=as_of, actor=system_actor) == 0


def _tier_events(member) -> list[dict]:
    """The member's `tier.changed` payloads, oldest first, without their own external id."""
    return [
        {k: v for k, v in payload.items() if k != "member_external_id"}
        for payload in Event.objects.filter(member_id=member.pk, type="tier.changed")
        .order_by("sequence")
        .values_list("payload", flat=True)
    ]


def _scope_sql(pairs) -> str:
    """SQL selecting the A side of `pairs` (as the import selects its members)."""
    ids = ", ".join(str(a.pk) for a, _ in pairs)
    return f"SELECT m.id FROM members_member m WHERE m.id IN ({ids})"


def test_the_member_scoped_evaluation_equals_evaluating_those_members_one_by_one(
    ladder, make_member, record_order, record_refund, system_actor
):
    # given: twin cohorts; half of the pairs are "imported" (in scope), half are not
    pairs, now = _twin_cohorts(
        make_member, record_order, record_refund, system_actor, pairs_count=50
    )
    as_of = now + 20 * DAY
    inside, outside = pairs[0::2], pairs[1::2]
    before = {m.pk: TierChange.objects.filter(member=m).count() for pair in pairs for m in pair}
    untouched = {a.pk: (_state(a), changes(a)) for a, _ in outside}

    # when: B inside one by one as the import used to, A inside set-based by an SQL selection
    for _, b in inside:
        tier_evaluate_member(member_id=b.pk, actor=system_actor, as_of=as_of, kind="import")
    written = tier_evaluate_all(
        as_of=as_of,
        actor=system_actor,
        kind="import",
        member_ids_sql=_scope_sql(inside),
    )

    # then: the same states and history for the members in scope, nothing for the others
    for a, b in inside:
        assert _state(a) == _state(b)
        assert changes(a)[before[a.pk] :] == changes(b)[before[b.pk] :]
    for a, _ in outside:
        assert (_state(a), changes(a)) == untouched[a.pk]
    new = TierChange.objects.filter(member__in=[a for a, _ in pairs], at=as_of)
    assert written == new.count()
    kinds = {kind: new.filter(kind=kind).count() for kind in TierChange.Kind.values}
    assert kinds["import"] + kinds["override_lapsed"] == written
    assert min(kinds["import"], kinds["override_lapsed"]) > 0, kinds
    # again: nothing left in scope; the members outside it still had something to do
    scope = _scope_sql(inside)
    assert tier_evaluate_all(as_of=as_of, actor=system_actor, member_ids_sql=scope) == 0
    assert tier_evaluate_all(as_of=as_of, actor=system_actor) > 0


@pytest.mark.django_db(transaction=True)
@pytest.mark.postgres
@pytest.mark.parametrize("scoped", [False, True], ids=["all members", "given members"])
def test_the_evaluation_waits_for_an_order_in_flight_and_respects_it(
    ladder, make_member, record_order, record_refund, system_actor, scoped
):
    # The evaluation locks the accounts of a batch of members at a time (no table lock).
    # given: Gold after its hold with 400.00 in the window, due for a downgrade to Silver
    settings_set(tier_hold_days=30)
    now = timezone.now()
    member = make_member()
    record_order(member, "O-1", "500.00", placed_at=now - 40 * DAY, now=now - 40 * DAY)
    record_refund("O-1", "R-1", "100.00", now=now - 39 * DAY)
    assert held(member) == "gold"

    # when: an order bringing the spend back to Gold holds the member's lock while the
    # evaluation starts
    locked, release = threading.Event(), threading.Event()

    def pause(order, member, actor):
        locked.set()
        release.wait(10)

    hooks.register_order_recorded_listener(pause)
    results = {}

    def place():
        try:
            record_order(member, "O-2", "100.00", placed_at=now, now=now)
        finally:
            connection.close()

    def evaluate():
        try:
            results["written"] = tier_evaluate_all(
                as_of=now + DAY,
                actor=system_actor,
                member_ids_sql=f"SELECT {member.pk}" if scoped else None,
            )
        finally:
            connection.close()

    try:
        placing = threading.Thread(target=place)
        placing.start()
        assert locked.wait(10)
        evaluating = threading.Thread(target=evaluate)
        evaluating.start()
        evaluating.join(1.0)
        assert evaluating.is_alive()  # waiting for the member's account lock
        release.set()
        placing.join(10)
        evaluating.join(10)
    finally:
        hooks.order_recorded_listeners.remove(pause)
        release.set()

    # then: the evaluation saw the new order: Gold was met again, no downgrade
    assert results["written"] == 0
    assert held(member) == "gold"
    assert [c[2] for c in changes(member)] == ["upgrade"]


@pytest.mark.django_db(transaction=True)
@pytest.mark.postgres
def test_the_evaluation_does_the_others_then_steps_aside_for_a_long_transaction_and_says_so(
    ladder, make_member, system_actor, monkeypatch
):
    # given: two members owed Silver, one of them locked by a long transaction
    from tests.loyalty.tiers_helpers import order_row

    monkeypatch.setattr(tier_batches, "BUSY_ATTEMPTS", 2)
    monkeypatch.setattr(tier_batches, "BUSY_LOCK_TIMEOUT", "50ms")
    monkeypatch.setattr(tier_batches, "BUSY_PAUSE", 0)
    owed, busy = make_member(), make_member()
    order_row(owed, "O-1", "300.00", placed_at=timezone.now() - DAY)
    order_row(busy, "O-2", "300.00", placed_at=timezone.now() - DAY)
    locked, release = threading.Event(), threading.Event()

    def hold():
        try:
            with transaction.atomic():
                account_lock(member_id=busy.pk)
                locked.set()
                release.wait(10)
        finally:
            connection.close()

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert locked.wait(10)
        # when: the evaluation runs meanwhile, then: it evaluates the other member, waits for
        # the locked one a bounded time, gives up and says so; the run is not recorded
        with pytest.raises(ServiceError) as excinfo:
            tier_evaluate_all(actor=system_actor)
        assert excinfo.value.code == "tier_evaluation_busy"
        assert (held(owed), held(busy)) == ("silver", "member")
        assert not TierEvaluationRun.objects.exists()
    finally:
        release.set()
        holder.join(10)

    # and once the long transaction has ended it runs (everyone again: no run recorded yet)
    assert tier_evaluate_all(actor=system_actor) == 1
    assert (held(owed), held(busy)) == ("silver", "silver")
    assert TierEvaluationRun.objects.get().full is True


def test_the_set_based_evaluation_admits_a_spend_exactly_at_the_threshold(
    ladder, make_member, system_actor
):
    # 0.70 + 249.10 + 0.20 is 249.99999999999997 in floating point (SQLite sums decimals as
    # floats): the evaluation must still see exactly 250.00, and 249.99 must stay below.
    from tests.loyalty.tiers_helpers import order_row

    exact, short = make_member(), make_member()
    for n, amount in enumerate(("0.70", "249.10", "0.20")):
        order_row(exact, f"E-{n}", amount, placed_at=T0 + n * DAY)
    for n, amount in enumerate(("0.70", "249.09", "0.20")):
        order_row(short, f"S-{n}", amount, placed_at=T0 + n * DAY)

    assert tier_evaluate_all(as_of=timezone.localdate(T0 + 5 * DAY), actor=system_actor) == 1

    assert (held(exact), held(short)) == ("silver", "member")
    assert changes(exact) == [("member", "silver", "upgrade", Decimal("250.00"), "Tier evaluation")]
