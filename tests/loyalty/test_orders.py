import datetime as dt
from decimal import Decimal
from http import HTTPStatus

import pytest

from config.errors import ServiceError
from loyalty.models import Account, ExchangeRate, Lot, Posting, ProgramSettings
from loyalty.selectors.program import program_settings
from tests.loyalty.conftest import T0


def balance(member):
    account = Account.objects.get(member=member)
    return account.available, account.pending


def test_an_order_earns_floor_of_eligible_times_rate_pending_for_14_days(member, record_order):
    result = record_order(member, "O-1", "123.99", placed_at=T0)

    assert (result.created, result.base, result.tier_bonus, result.total) == (True, 123, 0, 123)
    lot = Lot.objects.get(member=member)
    assert lot.available_at == T0 + dt.timedelta(days=14)
    assert lot.expires_at == T0 + dt.timedelta(days=14 + 365)
    assert balance(member) == (0, 123)


def test_eligible_total_is_used_when_sent(member, record_order):
    result = record_order(member, "O-1", "100.00", eligible_total=Decimal("80.50"))

    assert result.base == 80
    assert result.order.eligible_amount == Decimal("80.50")


def test_the_same_order_again_changes_nothing(member, record_order):
    first = record_order(member, "O-1", "50.00")
    again = record_order(member, "O-1", "50.00")

    assert (again.created, again.total, again.order.pk) == (False, 50, first.order.pk)
    assert Posting.objects.filter(member=member).count() == 1
    assert balance(member) == (0, 50)


def test_the_same_order_id_with_other_content_is_a_conflict(member, record_order):
    record_order(member, "O-1", "50.00")

    with pytest.raises(ServiceError) as excinfo:
        record_order(member, "O-1", "51.00")

    assert (excinfo.value.code, excinfo.value.status) == ("order_conflict", HTTPStatus.CONFLICT)


def test_an_order_in_another_currency_is_refused_without_a_rate(member, record_order):
    with pytest.raises(ServiceError) as excinfo:
        record_order(member, "O-1", "50.00", currency="EUR")

    assert (excinfo.value.code, excinfo.value.status) == ("currency_mismatch", 422)


def test_an_order_in_another_currency_converts_at_the_configured_rate(member, record_order):
    ExchangeRate.objects.create(currency="EUR", rate=Decimal("0.85"))

    result = record_order(member, "O-1", "100.00", currency="EUR")

    assert (result.order.eligible_amount, result.base) == (Decimal("85.00"), 85)


def test_pending_points_mature_and_later_expire_in_the_daily_job(member, record_order):
    from loyalty.services.jobs import daily_jobs_run

    record_order(member, "O-1", "100.00", placed_at=T0)
    daily_jobs_run(as_of=(T0 + dt.timedelta(days=13)).date())
    assert balance(member) == (0, 100)

    report = daily_jobs_run(as_of=(T0 + dt.timedelta(days=14)).date())
    assert (report.matured_lots, balance(member)) == (1, (100, 0))

    daily_jobs_run(as_of=(T0 + dt.timedelta(days=14 + 365)).date())
    again = daily_jobs_run(as_of=(T0 + dt.timedelta(days=14 + 365)).date())
    assert balance(member) == (0, 0)
    assert Posting.objects.filter(member=member, kind="expire").count() == 1
    assert (again.matured_lots, again.expired_lots) == (0, 0)


def test_lifetime_zero_means_points_never_expire(member, record_order):
    from loyalty.services.jobs import daily_jobs_run

    ProgramSettings.objects.filter(pk=program_settings().pk).update(points_lifetime_days=0)
    record_order(member, "O-1", "10.00", placed_at=T0)

    daily_jobs_run(as_of=dt.date(2040, 1, 1))

    assert Lot.objects.get(member=member).expires_at is None
    assert balance(member) == (10, 0)
