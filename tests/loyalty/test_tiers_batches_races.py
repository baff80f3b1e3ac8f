"""The batched evaluation against the storefront's orders, on PostgreSQL: it blocks no order but
those of the batch it is writing, and orders committing while it runs give the result of running
the two one after the other."""

from __future__ import annotations

import datetime as dt
import random
import threading
import time
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from events.models import Event
from loyalty.demo import demo_tiers_ensure
from loyalty.models import TierChange, TierEvaluationRun
from loyalty.services import tier_batches
from loyalty.services.tiers import tier_evaluate_all
from tests.loyalty.tiers_helpers import changes, held, settings_set

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]

DAY = dt.timedelta(days=1)
DOWN = ("gold", "silver", "downgrade", Decimal("400.00"), "Tier evaluation")


@pytest.fixture
def ladder(system_actor):
    return demo_tiers_ensure(actor=system_actor)


def _due_for_downgrade(make_member, record_order, record_refund, count: int) -> list:
    """Gold members after their hold with 400.00 in the window: each is owed Silver, and an
    order of 100.00 brings them back to Gold's threshold (qualified again)."""
    settings_set(tier_hold_days=30)
    now = timezone.now()
    members = []
    for n in range(count):
        member = make_member()
        record_order(member, f"G-{n}", "500.00", placed_at=now - 40 * DAY, now=now - 40 * DAY)
        record_refund(f"G-{n}", f"GR-{n}", "100.00", now=now - 39 * DAY)
        members.append(member)
    assert {held(m) for m in members} == {"gold"}
    return members


def _written(member) -> list[tuple]:
    """The member's tier history in the order it was written (a late order's upgrade is dated
    before the evaluation's moment, though written after it)."""
    rows = TierChange.objects.filter(member=member).select_related("from_tier", "to_tier")
    return [
        (c.from_tier.code, c.to_tier.code, c.kind, c.qualifying_spend, c.note)
        for c in rows.order_by("pk")
    ]


def _in_thread(target, *args):
    """Run `target(*args)` in a thread with its own connection; the thread and its result."""
    result = {}

    def run():
        try:
            result["value"] = target(*args)
        except BaseException as exc:
            result["error"] = exc
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, result


def test_the_evaluation_blocks_only_the_orders_of_the_batch_it_is_writing(
    ladder, make_member, record_order, record_refund, system_actor, monkeypatch
):
    # given: six members owed a downgrade, evaluated two at a time; the first batch pauses
    # while it writes (its events), holding its members' account locks
    monkeypatch.setattr(tier_batches, "BATCH_SIZE", 2)
    members = _due_for_downgrade(make_member, record_order, record_refund, 6)
    placed = timezone.now() - dt.timedelta(hours=1)
    writing, release, seen = threading.Event(), threading.Event(), {}
    write_events = tier_batches.tier_events_write

    def paused(**kwargs):
        if not writing.is_set():
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT l.mode FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
                    "WHERE c.relname = 'loyalty_account' AND l.pid = pg_backend_pid()"
                )
                seen["account_table_locks"] = sorted(row[0] for row in cursor.fetchall())
            writing.set()
            release.wait(10)
        return write_events(**kwargs)

    monkeypatch.setattr(tier_batches, "tier_events_write", paused)
    evaluation, evaluated = _in_thread(lambda: tier_evaluate_all(actor=system_actor))
    try:
        assert writing.wait(10)
        # when: while the first batch is being written, an order for a member of the last batch
        # and one for a member of the first batch
        outside, outside_result = _in_thread(
            lambda: record_order(members[5], "O-5", "100.00", placed_at=placed, now=placed)
        )
        outside.join(10)
        outside_done = not outside.is_alive() and "error" not in outside_result
        inside, inside_result = _in_thread(
            lambda: record_order(members[0], "O-0", "100.00", placed_at=placed, now=placed)
        )
        inside.join(0.5)
        inside_waited = inside.is_alive()
    finally:
        release.set()
        evaluation.join(20)
    inside.join(10)

    # then: the batch held row locks only (no table lock); the order outside it went through at
    # while the batch was still paused, the one inside it waited for the batch to commit
    assert seen["account_table_locks"] == ["RowShareLock"]
    assert outside_done
    assert inside_waited
    assert "error" not in inside_result
    assert "error" not in evaluated
    # the member of the last batch ordered before the batch locked them: it saw the order
    # (Gold met again), though the plan, read before, had them down for Silver
    assert _written(members[5])[1:] == []
    # the member of the first batch was downgraded, then their order upgraded them at once
    assert [c[:3] for c in _written(members[0])[1:]] == [
        ("gold", "silver", "downgrade"),
        ("silver", "gold", "upgrade"),
    ]
    assert [held(m) for m in members] == ["gold", "silver", "silver", "silver", "silver", "gold"]
    assert evaluated["value"] == 5
    run = TierEvaluationRun.objects.get()
    assert (run.members, run.batches, run.changes) == (6, 3, 5)


def test_orders_committing_during_the_evaluation_give_the_result_of_a_serial_run(
    ladder, make_member, record_order, record_refund, system_actor, monkeypatch
):
    # given: 30 members owed a downgrade, evaluated three at a time; 15 of them order (back to
    # Gold's threshold) from three storefront threads while the evaluation runs
    monkeypatch.setattr(tier_batches, "BATCH_SIZE", 3)
    members = _due_for_downgrade(make_member, record_order, record_refund, 30)
    buyers = random.Random(7).sample(members, 15)
    placed = timezone.now() - dt.timedelta(hours=1)
    before = {m.pk: len(changes(m)) for m in members}

    def buy(share):
        for member in share:
            time.sleep(random.random() * 0.05)
            record_order(member, f"O-{member.pk}", "100.00", placed_at=placed, now=placed)

    # when
    shoppers = [_in_thread(buy, buyers[i::3]) for i in range(3)]
    written = tier_evaluate_all(actor=system_actor)
    for thread, result in shoppers:
        thread.join(30)
        assert "error" not in result

    # then: each member's tiers and history are those of one serial order or the other:
    # order then evaluation (Gold met again: nothing), or evaluation then order (down, up)
    order_first, evaluation_first = 0, 0
    for member in members:
        new = _written(member)[before[member.pk] :]
        if member in buyers:
            assert held(member) == "gold"
            upgrade = ("silver", "gold", "upgrade", Decimal("500.00"), f"Order O-{member.pk}")
            assert new in ([], [DOWN, upgrade]), new
            order_first += new == []
            evaluation_first += new != []
        else:
            assert (held(member), new) == ("silver", [DOWN])
        events = Event.objects.filter(member_id=member.pk, type="tier.changed").count()
        assert events == TierChange.objects.filter(member=member).exclude(kind="override").count()
    assert written == TierChange.objects.filter(kind="downgrade").count() == 15 + evaluation_first
    # and nothing is left for a full run at the same moment
    run = TierEvaluationRun.objects.get()
    assert tier_evaluate_all(as_of=run.as_of, actor=system_actor, full=True) == 0
