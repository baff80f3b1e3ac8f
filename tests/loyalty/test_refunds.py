import datetime as dt
from decimal import Decimal

import pytest

from config.errors import ServiceError
from loyalty.models import Account, Debt, Order, Posting, ProgramSettings, Refund
from loyalty.selectors.program import program_settings
from loyalty.services.jobs import daily_jobs_run
from loyalty.services.points import points_spend
from tests.loyalty.conftest import T0


def balance(member):
    account = Account.objects.get(member=member)
    return account.available, account.pending


def test_refunding_in_three_parts_reverses_exactly_what_refunding_at_once_would(
    make_member, record_order, record_refund
):
    # given two members with the same 10.00 order (10 points)
    a, b = make_member(), make_member()
    record_order(a, "A-1", "10.00")
    record_order(b, "B-1", "10.00")

    # when one is refunded in three parts and the other at once
    parts = [
        record_refund("A-1", f"A-R{i}", amount).refund.points_reversed
        for i, amount in enumerate(["3.33", "3.33", "3.34"])
    ]
    whole = record_refund("B-1", "B-R", "10.00").refund.points_reversed

    # then floor(10 × 3.33 / 10) = 3, floor(10 × 6.66 / 10) − 3 = 3, 10 − 6 = 4 (not 3 + 3 + 3)
    assert parts == [3, 3, 4]
    assert sum(parts) == whole == 10
    assert balance(a) == balance(b) == (0, 0)


def test_a_refund_takes_the_orders_pending_points_first(member, record_order, record_refund):
    record_order(member, "O-OLD", "100.00", placed_at=T0)
    daily_jobs_run(as_of=(T0 + dt.timedelta(days=20)).date())  # O-OLD's 100 available
    record_order(member, "O-NEW", "50.00", placed_at=T0 + dt.timedelta(days=20))

    record_refund("O-NEW", "R-1", "20.00")

    assert balance(member) == (100, 30)


def test_refunds_cannot_exceed_the_orders_eligible_amount(member, record_order, record_refund):
    record_order(member, "O-1", "100.00", eligible_total=Decimal("90.00"))
    record_refund("O-1", "R-1", "60.00")

    with pytest.raises(ServiceError) as excinfo:
        record_refund("O-1", "R-2", "30.01")

    assert excinfo.value.code == "refund_exceeds_order"
    assert Order.objects.get(order_id="O-1").refunded_total == Decimal("60.00")


def test_a_refund_counts_once_and_conflicts_with_other_content(member, record_order, record_refund):
    record_order(member, "O-1", "100.00")
    record_refund("O-1", "R-1", "10.00")
    again = record_refund("O-1", "R-1", "10.00")

    assert again.created is False
    assert Refund.objects.count() == 1
    with pytest.raises(ServiceError) as excinfo:
        record_refund("O-1", "R-1", "11.00")
    assert excinfo.value.code == "refund_conflict"


def test_a_refund_of_an_unknown_order_is_not_found(db, record_refund):
    with pytest.raises(ServiceError) as excinfo:
        record_refund("NOPE", "R-1", "1.00")
    assert (excinfo.value.code, excinfo.value.status) == ("order_not_found", 404)


def test_refunding_spent_points_leaves_a_debt_later_earnings_pay_first(
    member, record_order, record_refund, system_actor
):
    from django.db import transaction

    record_order(member, "O-1", "100.00", placed_at=T0)
    daily_jobs_run(as_of=(T0 + dt.timedelta(days=14)).date())
    with transaction.atomic():
        points_spend(member=member, points=80, actor=system_actor, idempotency_key="spend-1")

    record_refund("O-1", "R-1", "100.00")
    assert balance(member) == (-80, 0)
    assert Debt.objects.get(member=member).remaining == 80

    record_order(member, "O-2", "50.00", placed_at=T0 + dt.timedelta(days=15))
    daily_jobs_run(as_of=(T0 + dt.timedelta(days=29)).date())

    assert balance(member) == (-30, 0)
    assert Debt.objects.get(member=member).remaining == 30


def test_without_negative_balances_the_reversal_is_capped_and_the_shortfall_recorded(
    member, record_order, record_refund, system_actor
):
    from django.db import transaction

    ProgramSettings.objects.filter(pk=program_settings().pk).update(allow_negative_balance=False)
    record_order(member, "O-1", "100.00", placed_at=T0)
    daily_jobs_run(as_of=(T0 + dt.timedelta(days=14)).date())
    with transaction.atomic():
        points_spend(member=member, points=70, actor=system_actor, idempotency_key="spend-1")

    refund = record_refund("O-1", "R-1", "100.00").refund

    assert (refund.points_reversed, refund.shortfall) == (30, 70)
    assert balance(member) == (0, 0)
    assert Debt.objects.count() == 0
    assert Posting.objects.get(kind="refund_reversal").points == -30


@pytest.mark.parametrize("amount", ["10.005", "NaN", "Infinity"])
def test_a_refund_amount_with_more_than_two_decimals_is_refused_naming_it(
    member, record_order, record_refund, amount
):
    record_order(member, "O-1", "100.00")

    with pytest.raises(ServiceError) as excinfo:
        record_refund("O-1", "R-1", amount)

    assert (excinfo.value.code, excinfo.value.errors) == (
        "validation_error",
        [{"field": "amount", "message": "amount must be an amount with at most two decimals."}],
    )
    assert Refund.objects.count() == 0


@pytest.mark.parametrize(
    ("total", "eligible", "field"),
    [("10.001", None, "total"), ("10.00", "9.999", "eligible_total")],
)
def test_an_order_amount_with_more_than_two_decimals_is_refused_naming_it(
    member, record_order, total, eligible, field
):
    with pytest.raises(ServiceError) as excinfo:
        record_order(member, "O-1", total, eligible_total=Decimal(eligible) if eligible else None)

    assert (excinfo.value.code, excinfo.value.errors[0]["field"]) == ("validation_error", field)
    assert Order.objects.count() == 0
