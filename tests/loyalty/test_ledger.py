"""The ledger's rules, one at a time, with exact values: FIFO by expiry, pending and expired points
never spent, returns and reversals once, debts paid oldest first, the audit and the database
refusing tampering."""

import datetime as dt
from http import HTTPStatus

import pytest
from django.contrib import admin
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import ProgrammingError, connection, transaction
from django.db.models import F, ProtectedError

from config.errors import ServiceError
from loyalty.models import Account, Debt, Lot, LotAllocation, Posting, ProgramSettings
from loyalty.selectors.audit import ledger_audit
from loyalty.services import ledger
from loyalty.services.jobs import daily_jobs_run
from loyalty.services.points import (
    points_adjust_post,
    points_return,
    points_spend,
    posting_reverse,
)
from tests.loyalty.conftest import T0

DAY = dt.timedelta(days=1)


def balance(member):
    account = Account.objects.get(member=member)
    return account.available, account.pending


def set_program(**fields):
    ProgramSettings.objects.update_or_create(pk=1, defaults=fields)


@pytest.fixture
def credit(system_actor):
    """`credit(member, 100, at=T0, lifetime=365)`: an adjustment, available at once."""
    counter = iter(range(1, 1_000_000))

    def _credit(member, points, *, at=T0, lifetime=365):
        set_program(points_lifetime_days=lifetime)
        return points_adjust_post(
            member=member,
            points=points,
            reason="test",
            actor=system_actor,
            idempotency_key=f"credit-{next(counter)}",
            now=at,
        )

    return _credit


@pytest.fixture
def spend(system_actor):
    counter = iter(range(1, 1_000_000))

    def _spend(member, points, *, at=T0):
        with transaction.atomic():
            return points_spend(
                member=member,
                points=points,
                actor=system_actor,
                idempotency_key=f"spend-{next(counter)}",
                reward_code="R",
                now=at,
            )

    return _spend


def drawn(posting):
    """{credit posting id: points} a debit (or a debt) took from each lot."""
    return dict(LotAllocation.objects.filter(posting=posting).values_list("lot_id", "points"))


def remaining(*postings):
    return [Lot.objects.get(pk=p.pk).remaining for p in postings]


# --- Spending order ---------------------------------------------------------------------------


def test_spending_takes_the_soonest_expiring_lot_first_and_a_never_expiring_lot_last(
    member, credit, spend
):
    never = credit(member, 100, lifetime=0)
    year = credit(member, 50, lifetime=365)
    month = credit(member, 20, lifetime=30)

    first = spend(member, 60, at=T0 + DAY)
    second = spend(member, 20, at=T0 + DAY)

    assert drawn(first) == {month.pk: 20, year.pk: 40}
    assert drawn(second) == {year.pk: 10, never.pk: 10}
    assert remaining(never, year, month) == [90, 0, 0]
    assert balance(member) == (90, 0)


def test_spending_never_touches_pending_points(member, record_order, credit, spend):
    order = record_order(member, "O-1", "100.00", placed_at=T0)  # pending for 14 days
    credit(member, 30, at=T0)

    with pytest.raises(ServiceError) as excinfo:
        spend(member, 31, at=T0 + DAY)
    assert (excinfo.value.code, excinfo.value.extra) == (
        "insufficient_points",
        {"available": 30, "required": 31},
    )

    spend(member, 30, at=T0 + DAY)
    assert Lot.objects.get(posting__order=order.order).remaining == 100
    assert balance(member) == (0, 100)


def test_a_lot_matures_for_spending_the_moment_it_is_due_without_the_daily_job(
    member, record_order, spend
):
    record_order(member, "O-1", "100.00", placed_at=T0)

    spend(member, 100, at=T0 + 14 * DAY)

    assert balance(member) == (0, 0)


def test_an_expired_lot_cannot_be_spent_even_before_the_daily_job_ran(member, credit, spend):
    lapsing = credit(member, 50, lifetime=30)  # expires T0 + 30 days
    lasting = credit(member, 20, lifetime=365)

    with pytest.raises(ServiceError) as excinfo:
        spend(member, 21, at=T0 + 30 * DAY)
    assert excinfo.value.extra == {"available": 20, "required": 21}
    assert balance(member) == (70, 0)  # the refused spend expired nothing (rolled back)

    spent = spend(member, 10, at=T0 + 30 * DAY)

    assert drawn(spent) == {lasting.pk: 10}
    expiry = Posting.objects.get(kind="expire")
    assert (expiry.points, expiry.effective_at, drawn(expiry)) == (
        -50,
        T0 + 30 * DAY,
        {lapsing.pk: 50},
    )
    assert balance(member) == (10, 0)


# --- Returning a spend ------------------------------------------------------------------------


def test_points_return_gives_a_spend_back_once_with_the_latest_expiry_of_its_lots(
    member, credit, spend, system_actor
):
    month = credit(member, 30, lifetime=30)
    year = credit(member, 30, lifetime=365)
    spent = spend(member, 50, at=T0 + DAY)
    assert drawn(spent) == {month.pk: 30, year.pk: 20}

    with transaction.atomic():
        returned = points_return(
            spend=spent, actor=system_actor, idempotency_key="return-1", now=T0 + 2 * DAY
        )
        same_key = points_return(
            spend=spent, actor=system_actor, idempotency_key="return-1", now=T0 + 2 * DAY
        )
        other_key = points_return(
            spend=spent, actor=system_actor, idempotency_key="return-2", now=T0 + 3 * DAY
        )

    assert same_key.pk == other_key.pk == returned.pk
    assert (returned.kind, returned.points, returned.reverses_id) == (
        "cancel_redemption",
        50,
        spent.pk,
    )
    lot = Lot.objects.get(pk=returned.pk)
    assert (lot.available_at, lot.expires_at, lot.matured) == (T0 + 2 * DAY, T0 + 365 * DAY, True)
    assert balance(member) == (60, 0)
    with pytest.raises(ServiceError) as excinfo:
        posting_reverse(posting=spent, reason="again", actor=system_actor, now=T0 + 3 * DAY)
    assert excinfo.value.code == "already_reversed"


def test_a_return_after_the_spent_points_lapsed_expires_at_once_never_before_it_was_made(
    member, credit, spend, system_actor
):
    credit(member, 30, lifetime=30)
    spent = spend(member, 30, at=T0 + DAY)

    with transaction.atomic():
        returned = points_return(
            spend=spent, actor=system_actor, idempotency_key="return-1", now=T0 + 40 * DAY
        )
    daily_jobs_run(as_of=(T0 + 40 * DAY).date())

    assert Lot.objects.get(pk=returned.pk).expires_at == T0 + 40 * DAY
    expiry = Posting.objects.get(kind="expire")
    assert (expiry.points, expiry.effective_at) == (-30, T0 + 40 * DAY)
    assert balance(member) == (0, 0)


def test_a_spend_a_supervisor_reversed_is_not_given_back_again(member, credit, spend, system_actor):
    credit(member, 100)
    spent = spend(member, 40, at=T0 + DAY)
    reversal = posting_reverse(posting=spent, reason="goodwill", actor=system_actor, now=T0 + DAY)

    with transaction.atomic():
        returned = points_return(
            spend=spent, actor=system_actor, idempotency_key="return-1", now=T0 + 2 * DAY
        )

    assert returned.pk == reversal.pk
    assert balance(member) == (100, 0)


# --- Reversals --------------------------------------------------------------------------------


def test_reversing_a_credit_takes_its_own_lot_first_then_the_soonest_expiring(
    member, credit, spend, system_actor
):
    year = credit(member, 100, lifetime=365)
    month = credit(member, 40, lifetime=30)
    never = credit(member, 20, lifetime=0)
    spend(member, 50, at=T0 + DAY)  # 40 from `month`, 10 from `year`

    reversal = posting_reverse(posting=year, reason="fraud", actor=system_actor, now=T0 + DAY)

    assert (reversal.kind, reversal.points, reversal.reverses_id) == ("reversal", -100, year.pk)
    assert drawn(reversal) == {year.pk: 90, never.pk: 10}
    assert remaining(year, month, never) == [0, 0, 10]
    assert balance(member) == (10, 0)


def test_reversing_a_credit_beyond_the_balance_is_a_debt_or_refused(
    member, credit, spend, system_actor
):
    first = credit(member, 100)
    spend(member, 80, at=T0 + DAY)

    set_program(allow_negative_balance=False)
    with pytest.raises(ServiceError) as excinfo:
        posting_reverse(posting=first, reason="fraud", actor=system_actor, now=T0 + DAY)
    assert excinfo.value.code == "insufficient_points"
    assert balance(member) == (20, 0)

    set_program(allow_negative_balance=True)
    reversal = posting_reverse(posting=first, reason="fraud", actor=system_actor, now=T0 + DAY)
    assert Debt.objects.get(posting=reversal).remaining == 80
    assert balance(member) == (-80, 0)


def test_reversing_a_debit_gives_the_points_back_as_a_fresh_lot(
    member, credit, spend, system_actor
):
    credit(member, 100, lifetime=30)
    spent = spend(member, 60, at=T0 + DAY)
    set_program(points_lifetime_days=365)

    reversal = posting_reverse(posting=spent, reason="error", actor=system_actor, now=T0 + 2 * DAY)

    lot = Lot.objects.get(pk=reversal.pk)
    assert (reversal.points, lot.available_at, lot.expires_at) == (60, T0 + 2 * DAY, T0 + 367 * DAY)
    assert balance(member) == (100, 0)


def test_a_posting_is_reversed_once(member, credit, system_actor):
    posting = credit(member, 100)
    posting_reverse(posting=posting, reason="once", actor=system_actor, now=T0)

    with pytest.raises(ServiceError) as excinfo:
        posting_reverse(posting=posting, reason="twice", actor=system_actor, now=T0)

    assert (excinfo.value.code, excinfo.value.status) == ("already_reversed", HTTPStatus.CONFLICT)
    assert balance(member) == (0, 0)


def test_expiries_and_reversals_cannot_be_reversed(member, credit, system_actor):
    posting = credit(member, 100, lifetime=30)
    daily_jobs_run(as_of=(T0 + 31 * DAY).date())
    expiry = Posting.objects.get(kind="expire")
    other = credit(member, 10, at=T0 + 31 * DAY)
    reversal = posting_reverse(posting=other, reason="x", actor=system_actor, now=T0 + 31 * DAY)

    for target in (expiry, reversal):
        with pytest.raises(ServiceError) as excinfo:
            posting_reverse(posting=target, reason="x", actor=system_actor, now=T0 + 32 * DAY)
        assert excinfo.value.code == "not_reversible"
    assert Lot.objects.get(pk=posting.pk).remaining == 0
    assert balance(member) == (0, 0)


def test_a_reason_is_required_to_reverse(member, credit, system_actor):
    posting = credit(member, 100)

    with pytest.raises(ServiceError) as excinfo:
        posting_reverse(posting=posting, reason="  ", actor=system_actor, now=T0)

    assert (excinfo.value.code, excinfo.value.errors) == (
        "validation_error",
        [{"field": "reason", "message": "A reason is required."}],
    )


# --- Debts ------------------------------------------------------------------------------------


@pytest.fixture
def two_debts(member, record_order, record_refund, spend):
    """Member with two debts: 100 (refund of O-1), then 50 (refund of O-2); balance −150."""
    record_order(member, "O-1", "100.00", placed_at=T0)
    record_order(member, "O-2", "50.00", placed_at=T0)
    spend(member, 150, at=T0 + 14 * DAY)
    record_refund("O-1", "R-1", "100.00", now=T0 + 15 * DAY)
    record_refund("O-2", "R-2", "50.00", now=T0 + 15 * DAY)
    debts = list(Debt.objects.order_by("pk"))
    assert [(d.points, d.remaining) for d in debts] == [(100, 100), (50, 50)]
    assert balance(member) == (-150, 0)
    return debts


def test_debts_are_paid_off_oldest_first_by_the_next_available_credit(member, two_debts, credit):
    first, second = two_debts

    paid = credit(member, 120, at=T0 + 16 * DAY)

    assert [Debt.objects.get(pk=d.pk).remaining for d in (first, second)] == [0, 30]
    assert drawn(first.posting) == {paid.pk: 100}
    assert drawn(second.posting) == {paid.pk: 20}
    assert remaining(paid) == [0]
    assert balance(member) == (-30, 0)


def test_a_credit_pays_debt_as_of_its_own_clock_not_the_wall_clock(member, two_debts, credit):
    # given a credit posted as of T0 + 16 days that expires 30 days later (long before today)
    first, second = two_debts

    paid = credit(member, 120, at=T0 + 16 * DAY, lifetime=30)

    # then at its own time it was unexpired, so it paid the debts
    assert [Debt.objects.get(pk=d.pk).remaining for d in (first, second)] == [0, 30]
    assert remaining(paid) == [0]


def test_the_maturity_job_pays_debt_from_the_points_it_makes_available(
    member, two_debts, record_order
):
    first, second = two_debts
    earned = record_order(member, "O-3", "130.00", placed_at=T0 + 20 * DAY)
    assert balance(member) == (-150, 130)

    daily_jobs_run(as_of=(T0 + 33 * DAY).date())
    assert balance(member) == (-150, 130)  # not due yet

    report = daily_jobs_run(as_of=(T0 + 34 * DAY).date())

    lot = Lot.objects.get(posting__order=earned.order)
    assert (report.matured_lots, lot.matured, lot.remaining) == (1, True, 0)
    assert [Debt.objects.get(pk=d.pk).remaining for d in (first, second)] == [0, 20]
    assert balance(member) == (-20, 0)


def test_debts_are_paid_from_as_many_lots_as_they_need_page_after_page(
    member, two_debts, record_order, monkeypatch
):
    # given lots read one at a time, and three orders maturing on the same day
    monkeypatch.setattr(ledger, "LOT_PAGE", 1)
    first, second = two_debts
    for n in (3, 4, 5):
        record_order(member, f"O-{n}", "60.00", placed_at=T0 + 20 * DAY)

    daily_jobs_run(as_of=(T0 + 34 * DAY).date())

    # then all three lots pay: 150 of debt from 180 points, 30 left to spend
    assert [Debt.objects.get(pk=d.pk).remaining for d in (first, second)] == [0, 0]
    assert sorted(Lot.objects.filter(posting__order__order_id__in=["O-3", "O-4", "O-5"])
                  .values_list("remaining", flat=True)) == [0, 0, 30]  # fmt: skip
    assert balance(member) == (30, 0)


def test_lifetime_earned_counts_earnings_and_positive_adjustments_only(
    member, record_order, record_refund, credit, spend, system_actor
):
    record_order(member, "O-1", "100.00", placed_at=T0)
    credit(member, 50, at=T0)
    spent = spend(member, 30, at=T0 + DAY)
    with transaction.atomic():
        points_return(spend=spent, actor=system_actor, idempotency_key="ret", now=T0 + DAY)
    points_adjust_post(
        member=member, points=-20, reason="t", actor=system_actor, idempotency_key="neg", now=T0
    )
    record_refund("O-1", "R-1", "40.00", now=T0 + DAY)

    account = Account.objects.get(member=member)
    assert (account.lifetime_earned, account.available, account.pending) == (150, 30, 60)


# --- The audit and the database ---------------------------------------------------------------


def test_audit_ledger_reports_a_tampered_balance_and_exits_non_zero(member, credit, capsys):
    credit(member, 100)
    call_command("audit_ledger")
    assert "Ledger OK." in capsys.readouterr().out

    Account.objects.filter(member=member).update(available=F("available") + 5)
    report = ledger_audit()
    with pytest.raises(CommandError) as excinfo:
        call_command("audit_ledger")
    errors = capsys.readouterr().err
    Account.objects.filter(member=member).update(available=F("available") - 5)  # for the teardown

    assert report.mismatches == [
        f"member {member.pk}: postings sum to 100, balance is 105 available + 0 pending",
        f"member {member.pk}: available 105, lots less debt give 100",
    ]
    assert str(excinfo.value) == "2 mismatch(es) found"
    assert errors.splitlines() == [f"MISMATCH {line}" for line in report.mismatches]


def test_audit_ledger_reports_a_lot_that_lost_points_without_an_allocation(member, credit):
    posting = credit(member, 100)
    Lot.objects.filter(pk=posting.pk).update(remaining=90)

    mismatches = ledger_audit().mismatches
    Lot.objects.filter(pk=posting.pk).update(remaining=100)

    assert f"lot {posting.pk}: 10 used, allocations say 0" in mismatches
    assert f"member {member.pk}: available 100, lots less debt give 90" in mismatches


def test_a_posting_cannot_be_deleted_through_the_orm_or_the_admin(member, credit, rf, admin_user):
    posting = credit(member, 100)

    with pytest.raises(ProtectedError):
        Posting.objects.filter(pk=posting.pk).delete()

    request = rf.get("/admin/")
    request.user = admin_user
    posting_admin = admin.site._registry[Posting]
    assert posting_admin.has_delete_permission(request, posting) is False
    assert posting_admin.has_change_permission(request, posting) is False
    assert posting_admin.has_add_permission(request) is False
    assert "delete_selected" not in posting_admin.get_actions(request)


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("sql", "table"),
    [
        ("UPDATE loyalty_posting SET points = points + 1 WHERE id = %s", "loyalty_posting"),
        ("DELETE FROM loyalty_posting WHERE id = %s", "loyalty_posting"),
        (
            "UPDATE loyalty_lotallocation SET points = points + 1 WHERE posting_id = %s",
            "loyalty_lotallocation",
        ),
        ("DELETE FROM loyalty_lotallocation WHERE posting_id = %s", "loyalty_lotallocation"),
    ],
)
def test_postgresql_refuses_to_change_or_delete_postings_and_allocations(
    member, credit, spend, sql, table
):
    earned = credit(member, 100)
    spent = spend(member, 10, at=T0 + DAY)

    with (
        pytest.raises(ProgrammingError, match=f"Cannot update or delete rows from {table} table"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(sql, [spent.pk])

    assert Posting.objects.get(pk=spent.pk).points == -10
    assert drawn(spent) == {earned.pk: 10}


@pytest.mark.postgres
def test_postgresql_refuses_an_orm_update_of_a_posting(member, credit):
    posting = credit(member, 100)

    with (
        pytest.raises(ProgrammingError, match="Cannot update or delete rows from loyalty_posting"),
        transaction.atomic(),
    ):
        Posting.objects.filter(pk=posting.pk).update(reason="rewritten")

    assert Posting.objects.get(pk=posting.pk).reason == "test"


# --- An order's points are taken back once, by refunds or by a Supervisor --------------------


def test_a_refund_does_not_take_back_points_a_supervisor_already_reversed(
    member, record_order, record_refund, system_actor
):
    earned = record_order(member, "O-1", "100.00", placed_at=T0)
    earn = Posting.objects.get(order=earned.order, kind="earn")
    posting_reverse(posting=earn, reason="fraud", actor=system_actor, now=T0 + 15 * DAY)

    refund = record_refund("O-1", "R-1", "100.00", now=T0 + 16 * DAY).refund

    assert (refund.points_reversed, refund.shortfall) == (0, 0)
    assert Posting.objects.filter(kind="refund_reversal").count() == 0
    assert balance(member) == (0, 0)


def test_a_supervisor_reverses_only_what_the_orders_refunds_left(
    member, record_order, record_refund, credit, system_actor
):
    earned = record_order(member, "O-1", "100.00", placed_at=T0)
    credit(member, 500, at=T0)
    record_refund("O-1", "R-1", "40.00", now=T0 + DAY)  # 40 of the order's 100 taken back
    earn = Posting.objects.get(order=earned.order, kind="earn")

    reversal = posting_reverse(posting=earn, reason="fraud", actor=system_actor, now=T0 + DAY)
    record_refund("O-1", "R-2", "60.00", now=T0 + 2 * DAY)

    assert reversal.points == -60
    assert balance(member) == (500, 0)
    with pytest.raises(ServiceError) as excinfo:
        posting_reverse(posting=earn, reason="again", actor=system_actor, now=T0 + 2 * DAY)
    assert excinfo.value.code == "already_reversed"


def test_a_fully_refunded_orders_earning_cannot_be_reversed_again(
    member, record_order, record_refund, credit, system_actor
):
    earned = record_order(member, "O-1", "100.00", placed_at=T0)
    credit(member, 500, at=T0)
    record_refund("O-1", "R-1", "100.00", now=T0 + DAY)
    earn = Posting.objects.get(order=earned.order, kind="earn")

    with pytest.raises(ServiceError) as excinfo:
        posting_reverse(posting=earn, reason="fraud", actor=system_actor, now=T0 + DAY)

    assert excinfo.value.code == "not_reversible"
    assert balance(member) == (500, 0)


def test_after_a_supervisor_gives_a_refund_reversal_back_the_earning_can_be_reversed(
    member, record_order, record_refund, credit, system_actor
):
    earned = record_order(member, "O-1", "100.00", placed_at=T0)
    credit(member, 500, at=T0)
    record_refund("O-1", "R-1", "100.00", now=T0 + DAY)
    taken = Posting.objects.get(kind="refund_reversal")
    posting_reverse(posting=taken, reason="goodwill", actor=system_actor, now=T0 + DAY)
    assert balance(member) == (600, 0)
    earn = Posting.objects.get(order=earned.order, kind="earn")

    reversal = posting_reverse(posting=earn, reason="fraud", actor=system_actor, now=T0 + DAY)

    assert reversal.points == -100
    assert balance(member) == (500, 0)
