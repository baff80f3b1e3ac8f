"""Tiers on the order path and in the daily evaluation (`docs/tiers.md`).

The default ladder (`loyalty.demo`): Member 0 ×1, Silver 250 ×1.25, Gold 500 ×1.5, Platinum 1000
×2. Orders go through the real order path (`order_record`); evaluations get explicit dates.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from http import HTTPStatus

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from config.errors import ServiceError
from loyalty.demo import demo_tiers_ensure
from loyalty.models import MemberTier, Tier, TierChange
from loyalty.selectors.tier_metric import qualifying_spend
from loyalty.selectors.tiers import qualification_window
from loyalty.services.tiers import (
    tier_after_order,
    tier_evaluate_all,
    tier_evaluate_member,
    tier_for_order,
    tier_override,
    tier_override_end,
)
from tests.loyalty.conftest import T0
from tests.loyalty.tiers_helpers import changes, held, settings_set

DAY = dt.timedelta(days=1)


@pytest.fixture
def ladder(db, system_actor):
    return demo_tiers_ensure(actor=system_actor)


def test_no_tier_configured_earns_at_multiplier_one(member, record_order):
    result = record_order(member, "O-1", "600.00")

    assert tier_for_order(member_id=member.pk) == ("", Decimal("1"))
    assert (result.base, result.tier_bonus, result.order.tier_code) == (600, 0, "")
    assert MemberTier.objects.count() == 0
    assert tier_evaluate_all(as_of=T0 + DAY) == 0


def test_a_new_member_is_in_the_entry_tier_without_a_row(ladder, member):
    assert tier_for_order(member_id=member.pk) == ("member", Decimal("1.00"))
    assert MemberTier.objects.filter(member=member).exists() is False


def test_a_spend_exactly_at_a_threshold_reaches_the_tier(ladder, member, record_order):
    record_order(member, "O-1", "100.00", placed_at=T0)
    first = record_order(member, "O-2", "149.99", placed_at=T0 + DAY)

    assert held(member) == "member"
    assert (first.base, first.tier_bonus) == (149, 0)

    reaching = record_order(member, "O-3", "0.01", placed_at=T0 + 2 * DAY)

    assert held(member) == "silver"
    assert changes(member) == [("member", "silver", "upgrade", Decimal("250.00"), "Order O-3")]
    assert MemberTier.objects.get(member=member).since == T0 + 2 * DAY
    # The crossing order earned at the tier held when it was placed; the next earns ×1.25.
    assert (reaching.base, reaching.tier_bonus, reaching.order.tier_code) == (0, 0, "member")
    after = record_order(member, "O-4", "100.00", placed_at=T0 + 3 * DAY)
    assert (after.base, after.tier_bonus, after.order.tier_code) == (100, 25, "silver")


def test_one_order_can_jump_two_tiers(ladder, member, record_order):
    record_order(member, "O-1", "200.00", placed_at=T0)

    jump = record_order(member, "O-2", "350.00", placed_at=T0 + DAY)

    assert (jump.base, jump.tier_bonus, jump.order.tier_code) == (350, 0, "member")
    assert held(member) == "gold"
    assert changes(member) == [("member", "gold", "upgrade", Decimal("550.00"), "Order O-2")]
    after = record_order(member, "O-3", "101.00", placed_at=T0 + 2 * DAY)
    assert (after.base, after.tier_bonus) == (101, 50)


def test_an_order_meeting_the_held_tier_restarts_the_hold(ladder, member, record_order):
    record_order(member, "O-1", "300.00", placed_at=T0)
    record_order(member, "O-2", "10.00", placed_at=T0 + 30 * DAY)

    state = MemberTier.objects.get(member=member)
    assert (state.since, state.qualified_at) == (T0, T0 + 30 * DAY)


def test_an_order_below_the_held_tier_does_not_restart_the_hold(ladder, member, record_order):
    record_order(member, "O-1", "300.00", placed_at=T0)
    settings_set(tier_hold_days=400)
    # A year on, the first order has left the window: 20.00 alone does not meet Silver.
    record_order(member, "O-2", "20.00", placed_at=T0 + 370 * DAY)

    assert MemberTier.objects.get(member=member).qualified_at == T0


def test_no_downgrade_inside_the_hold_period_and_one_after_it(ladder, member, record_order):
    settings_set(tier_hold_days=400)
    record_order(member, "O-1", "300.00", placed_at=T0)  # Silver, held until T0 + 400 days
    last_held_day = timezone.localdate(T0 + 400 * DAY)
    assert last_held_day == dt.date(2027, 2, 9)

    # A year on, the spend in the window is 0: still Silver through the last day of the hold.
    assert tier_evaluate_all(as_of=T0 + 380 * DAY) == 0
    assert tier_evaluate_all(as_of=last_held_day) == 0
    assert held(member) == "silver"

    assert tier_evaluate_all(as_of=last_held_day + DAY) == 1

    assert held(member) == "member"
    assert changes(member)[-1] == (
        "silver",
        "member",
        "downgrade",
        Decimal("0.00"),
        "Tier evaluation",
    )
    state = MemberTier.objects.get(member=member)
    assert state.since == state.qualified_at
    assert timezone.localdate(state.since) == dt.date(2027, 2, 10)
    # Running it again for the same day changes nothing.
    assert tier_evaluate_all(as_of=last_held_day + DAY) == 0


def test_a_downgrade_lands_on_the_highest_tier_the_spend_still_meets(ladder, member, record_order):
    settings_set(tier_hold_days=400)
    record_order(member, "O-1", "1000.00", placed_at=T0)  # Platinum, held until T0 + 400 days
    record_order(member, "O-2", "120.00", placed_at=T0 + 370 * DAY)
    record_order(member, "O-3", "140.00", placed_at=T0 + 380 * DAY)

    # After the hold, the window holds 260.00: Silver (not Gold, not Member).
    assert tier_evaluate_all(as_of=timezone.localdate(T0 + 401 * DAY)) == 1

    assert held(member) == "silver"
    assert changes(member)[-1][:4] == ("platinum", "silver", "downgrade", Decimal("260.00"))


def test_after_the_hold_a_member_still_meeting_the_tier_qualifies_again(
    ladder, member, record_order
):
    settings_set(tier_hold_days=30)
    record_order(member, "O-1", "300.00", placed_at=T0)
    day = timezone.localdate(T0 + 40 * DAY)

    assert tier_evaluate_all(as_of=day) == 0

    state = MemberTier.objects.get(member=member)
    assert (state.tier.code, state.since, timezone.localdate(state.qualified_at)) == (
        "silver",
        T0,
        day,
    )


def test_the_rolling_window_drops_orders_older_than_365_days(ladder, member, record_order):
    record_order(member, "O-1", "300.00", placed_at=T0)
    record_order(member, "O-2", "50.00", placed_at=T0 + 100 * DAY)
    settings = {"qualification": "rolling_365"}

    def spend_at(moment):
        window = qualification_window(as_of=moment, **settings)
        return qualifying_spend(member_id=member.pk, window=window)

    assert spend_at(T0 + 365 * DAY - dt.timedelta(seconds=1)) == Decimal("350.00")
    assert spend_at(T0 + 365 * DAY) == Decimal("50.00")
    assert spend_at(T0 + 465 * DAY) == Decimal("0.00")
    # Without a hold period the evaluation follows the window day by day.
    settings_set(tier_hold_days=0)
    assert tier_evaluate_all(as_of=timezone.localdate(T0 + 364 * DAY)) == 0
    assert held(member) == "silver"
    assert tier_evaluate_all(as_of=timezone.localdate(T0 + 365 * DAY)) == 1
    assert changes(member)[-1][:4] == ("silver", "member", "downgrade", Decimal("50.00"))


def test_refunds_lower_qualifying_spend(ladder, member, record_order, record_refund):
    settings_set(tier_hold_days=30)
    record_order(member, "O-1", "300.00", placed_at=T0)
    record_refund("O-1", "R-1", "60.00", now=T0 + 5 * DAY)

    window = qualification_window(as_of=T0 + 10 * DAY, qualification="rolling_365")
    assert qualifying_spend(member_id=member.pk, window=window) == Decimal("240.00")
    # Inside the hold a refund does not take the tier away; after it, the net spend decides.
    assert tier_evaluate_all(as_of=timezone.localdate(T0 + 10 * DAY)) == 0
    assert held(member) == "silver"
    record_order(member, "O-2", "5.00", placed_at=T0 + 20 * DAY)  # 245.00: not Silver again
    assert tier_evaluate_all(as_of=timezone.localdate(T0 + 40 * DAY)) == 1
    assert changes(member)[-1][:4] == ("silver", "member", "downgrade", Decimal("245.00"))


def test_a_refund_then_a_new_order_only_upgrades_on_net_spend(
    ladder, member, record_order, record_refund
):
    record_order(member, "O-1", "240.00", placed_at=T0)
    record_refund("O-1", "R-1", "40.00", now=T0 + DAY)

    record_order(member, "O-2", "49.99", placed_at=T0 + 2 * DAY)  # net 249.99
    assert held(member) == "member"
    record_order(member, "O-3", "0.01", placed_at=T0 + 3 * DAY)  # net 250.00
    assert held(member) == "silver"


def test_an_override_wins_and_then_lapses(ladder, member, record_order, system_actor):
    gold = Tier.objects.get(code="gold")
    today = timezone.localdate()
    until = today + dt.timedelta(days=10)

    state = tier_override(
        member=member, tier=gold, until=until, reason="Status match", actor=system_actor
    )

    assert (state.tier.code, state.override_tier.code, state.override_until) == (
        "member",
        "gold",
        until,
    )
    assert tier_for_order(member_id=member.pk) == ("gold", Decimal("1.50"))
    now = timezone.now()
    earned = record_order(member, "O-1", "100.00", placed_at=now, now=now)
    assert (earned.base, earned.tier_bonus, earned.order.tier_code) == (100, 50, "gold")
    assert changes(member) == [("member", "gold", "override", None, f"Until {until}: Status match")]

    assert tier_evaluate_all(as_of=until) == 0  # through its last day
    assert tier_for_order(member_id=member.pk) == ("gold", Decimal("1.50"))

    assert tier_evaluate_all(as_of=until + DAY) == 1

    assert changes(member)[-1] == (
        "gold",
        "member",
        "override_lapsed",
        None,
        "Override ended: Status match",
    )
    state = MemberTier.objects.get(member=member)
    assert (state.override_tier, state.override_until, state.override_reason) == (None, None, "")
    assert tier_for_order(member_id=member.pk) == ("member", Decimal("1.00"))


def test_an_override_is_audited(ladder, member, system_actor):
    from members.models import AuditEntry

    until = timezone.localdate() + DAY
    tier_override(
        member=member,
        tier=Tier.objects.get(code="silver"),
        until=until,
        reason="Apology",
        actor=system_actor,
    )

    entry = AuditEntry.objects.get(action="tier.override")
    assert (entry.member, entry.reason, entry.changes) == (
        member,
        "Apology",
        {"override_tier": [None, "silver"], "override_until": [None, until.isoformat()]},
    )


def test_an_override_below_the_earned_tier_also_wins(ladder, member, record_order, system_actor):
    record_order(member, "O-1", "600.00", placed_at=T0)
    tier_override(
        member=member,
        tier=Tier.objects.get(code="member"),
        until=timezone.localdate() + DAY,
        reason="Abuse under review",
        actor=system_actor,
    )

    assert tier_for_order(member_id=member.pk) == ("member", Decimal("1.00"))
    assert changes(member)[-1][:3] == ("gold", "member", "override")


def test_ending_an_override_early_restores_the_earned_tier(ladder, member, system_actor):
    tier_override(
        member=member,
        tier=Tier.objects.get(code="gold"),
        until=timezone.localdate() + 5 * DAY,
        reason="Trial",
        actor=system_actor,
    )

    tier_override_end(member=member, reason="Trial cancelled", actor=system_actor)

    assert tier_for_order(member_id=member.pk) == ("member", Decimal("1.00"))
    assert changes(member)[-1] == (
        "gold",
        "member",
        "override",
        None,
        "Override ended early: Trial cancelled",
    )


@pytest.mark.parametrize(
    ("until_days", "reason", "field"), [(-1, "Late", "until"), (3, "  ", "reason")]
)
def test_an_override_needs_a_future_date_and_a_reason(
    ladder, member, system_actor, until_days, reason, field
):
    with pytest.raises(ServiceError) as excinfo:
        tier_override(
            member=member,
            tier=Tier.objects.get(code="gold"),
            until=timezone.localdate() + dt.timedelta(days=until_days),
            reason=reason,
            actor=system_actor,
        )

    assert (excinfo.value.code, excinfo.value.status) == (
        "validation_error",
        HTTPStatus.BAD_REQUEST,
    )
    assert excinfo.value.errors[0]["field"] == field
    assert MemberTier.objects.count() == 0


def test_calendar_year_mode_at_new_year(ladder, member, record_order):
    settings_set(qualification="calendar_year", tier_hold_days=10)
    dec_10 = dt.datetime(2025, 12, 10, 12, 0, tzinfo=dt.UTC)
    record_order(member, "O-1", "600.00", placed_at=dec_10)  # Gold, held until 20 Dec
    last_minute = dt.datetime(2025, 12, 31, 23, 59, tzinfo=dt.UTC)  # London = UTC in winter
    record_order(member, "O-2", "100.00", placed_at=last_minute)  # 2025: meets Gold again
    first_minute = dt.datetime(2026, 1, 1, 0, 0, tzinfo=dt.UTC)
    record_order(member, "O-3", "260.00", placed_at=first_minute)  # counts for 2026 only

    def spend_at(moment):
        window = qualification_window(as_of=moment, qualification="calendar_year")
        return qualifying_spend(member_id=member.pk, window=window)

    assert spend_at(last_minute) == Decimal("700.00")
    assert spend_at(first_minute) == Decimal("260.00")
    # Gold was met again at 23:59 on 31 Dec: held until 10 Jan 2026 despite the new year.
    assert MemberTier.objects.get(member=member).qualified_at == last_minute
    assert tier_evaluate_all(as_of=dt.date(2026, 1, 1)) == 0
    assert tier_evaluate_all(as_of=dt.date(2026, 1, 10)) == 0
    assert held(member) == "gold"

    assert tier_evaluate_all(as_of=dt.date(2026, 1, 11)) == 1

    assert changes(member)[-1][:4] == ("gold", "silver", "downgrade", Decimal("260.00"))


def test_the_evaluation_upgrades_members_a_lowered_threshold_now_admits(
    ladder, make_member, record_order, system_actor
):
    from loyalty.services.tier_config import tier_save

    near = make_member()
    record_order(near, "O-1", "450.00", placed_at=T0)  # Silver
    gold = Tier.objects.get(code="gold")
    tier_save(
        actor=system_actor,
        tier=gold,
        code="gold",
        name="Gold",
        rank=2,
        threshold=Decimal("400.00"),
        multiplier=gold.multiplier,
        perks=list(gold.perks.all()),
    )

    assert tier_evaluate_all(as_of=timezone.localdate(T0 + DAY)) == 1

    assert held(near) == "gold"
    assert changes(near)[-1][:4] == ("silver", "gold", "upgrade", Decimal("450.00"))


def test_members_without_a_row_are_upgraded_by_the_evaluation(ladder, make_member):
    # e.g. orders imported without the order path; the evaluation creates the row.
    from tests.loyalty.tiers_helpers import order_row

    imported = make_member()
    order_row(imported, "I-1", "1200.00", placed_at=T0)

    assert tier_evaluate_all(as_of=timezone.localdate(T0 + DAY)) == 1

    assert held(imported) == "platinum"


def test_erased_members_are_not_evaluated(ladder, make_member, system_actor):
    from members.services import member_erase
    from tests.loyalty.tiers_helpers import order_row

    gone = make_member()
    order_row(gone, "I-1", "1200.00", placed_at=T0)
    member_erase(member=gone, actor=system_actor)

    assert tier_evaluate_all(as_of=timezone.localdate(T0 + DAY)) == 0
    assert tier_evaluate_member(member_id=gone.pk, actor=system_actor, as_of=T0 + DAY) == []


def test_evaluating_one_member_for_an_import_records_the_import(ladder, make_member, system_actor):
    from tests.loyalty.tiers_helpers import order_row

    imported = make_member()
    order_row(imported, "I-1", "520.00", placed_at=T0)

    result = tier_evaluate_member(
        member_id=imported.pk, actor=system_actor, as_of=T0 + DAY, kind="import"
    )

    assert [(c.from_tier.code, c.to_tier.code, c.kind) for c in result] == [
        ("member", "gold", "import")
    ]
    assert held(imported) == "gold"


def test_tier_after_order_runs_inside_the_orders_transaction(ladder, member, system_actor):
    from tests.loyalty.tiers_helpers import order_row

    order = order_row(member, "I-1", "300.00", placed_at=T0)

    with transaction.atomic():
        change = tier_after_order(member_id=member.pk, order=order, actor=system_actor)

    assert (change.kind, change.to_tier.code, change.actor_label) == (
        "upgrade",
        "silver",
        "system:tests",
    )


@pytest.mark.django_db(transaction=True)
@pytest.mark.postgres
def test_tier_history_is_append_only_in_postgresql(ladder, member, record_order):
    record_order(member, "O-1", "300.00", placed_at=T0)
    change = TierChange.objects.get(member=member)

    with pytest.raises(Exception, match="tierchange_append_only"), transaction.atomic():
        TierChange.objects.filter(pk=change.pk).update(note="edited")
    with pytest.raises(Exception, match="tierchange_append_only"), transaction.atomic():
        TierChange.objects.filter(pk=change.pk).delete()
    assert connection.vendor == "postgresql"


def test_the_database_refuses_a_multiplier_below_one(ladder):
    with pytest.raises(IntegrityError), transaction.atomic():
        Tier.objects.filter(code="gold").update(multiplier=Decimal("0.99"))
    with pytest.raises(IntegrityError), transaction.atomic():
        Tier.objects.filter(code="member").update(threshold=Decimal("1.00"))


def test_the_demo_ladder_is_created_once_and_never_overwrites_staff_changes(db, system_actor):
    from loyalty.services.tier_config import tier_save

    first = demo_tiers_ensure(actor=system_actor)
    gold = Tier.objects.get(code="gold")
    tier_save(
        actor=system_actor,
        tier=gold,
        code="gold",
        name="Gold",
        rank=2,
        threshold=Decimal("600.00"),
        multiplier=Decimal("1.50"),
    )

    again = demo_tiers_ensure(actor=system_actor)

    assert [(t.code, t.rank, t.threshold, t.multiplier) for t in first] == [
        ("member", 0, Decimal("0.00"), Decimal("1.00")),
        ("silver", 1, Decimal("250.00"), Decimal("1.25")),
        ("gold", 2, Decimal("500.00"), Decimal("1.50")),
        ("platinum", 3, Decimal("1000.00"), Decimal("2.00")),
    ]
    assert [t.threshold for t in again] == [
        Decimal("0.00"),
        Decimal("250.00"),
        Decimal("600.00"),
        Decimal("1000.00"),
    ]
    assert Tier.objects.count() == 4
