"""The liability aged by expiry, the breakage rate, the expected liability and the finance CSV,
on a hand-computed program (point value 0.01; pending 14 days; points live 365 days once
available, so an order placed D days ago expires in 379 − D days):

    O-a 10.00 placed 369 days ago: expires in 10 days   → ≤ 30 days      10
    O-b 20.00 placed 319 days ago: expires in 60 days   → 31–90 days     20
    O-c 30.00 placed 239 days ago: expires in 140 days  → 91–180 days    30
    O-d 40.00 placed 100 days ago: expires in 279 days  → 181–365 days   40
    O-e 50.00 placed 5 days ago:   pending                               50
    O-x 70.00 placed 400 days ago: expired 21 days ago; 30 of it spent 30 days ago, 40 expired
    O-y 30.00 placed 390 days ago: expired 11 days ago, all 30 expired

Breakage (12 months) = expired 70 ÷ reached expiry 100 = 70.0%. Held in lots 150 → 1.50;
expected liability = 1.50 × (1 − 0.70) = 0.45.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal
from http import HTTPStatus

import pytest
from django.db import transaction
from django.utils import timezone

from analytics.exports import escape_cell
from analytics.models import LiabilitySnapshot
from loyalty.services.jobs import daily_jobs_run
from loyalty.services.points import points_spend
from tests.loyalty.staff import client_for, staff_user

pytestmark = pytest.mark.django_db

DAY = dt.timedelta(days=1)


@pytest.fixture
def aged(make_member, record_order, system_actor):
    now = timezone.now()
    member = make_member(enrolled_at=now - 500 * DAY)
    orders = {"a": 369, "b": 319, "c": 239, "d": 100, "e": 5, "x": 400, "y": 390}
    totals = {"a": 10, "b": 20, "c": 30, "d": 40, "e": 50, "x": 70, "y": 30}
    for name, days in orders.items():
        record_order(member, f"O-{name}", f"{totals[name]}.00", placed_at=now - days * DAY, now=now)
    with transaction.atomic():
        points_spend(
            member=member,
            points=30,
            actor=system_actor,
            idempotency_key="spend-x",
            now=now - 30 * DAY,
        )
    daily_jobs_run()  # expires O-x's 40 and O-y's 30; refreshes the rollups; takes the snapshot
    return member


def test_the_liability_is_aged_by_expiry(aged):
    snapshot = LiabilitySnapshot.objects.get()

    buckets = (
        snapshot.pending,
        snapshot.within_30,
        snapshot.within_90,
        snapshot.within_180,
        snapshot.within_365,
        snapshot.later,
        snapshot.never,
        snapshot.debt,
    )
    assert buckets == (50, 10, 20, 30, 40, 0, 0, 0)
    assert snapshot.outstanding == 150


def test_breakage_and_expected_liability_on_the_page_and_in_the_csv(aged):
    client = client_for(staff_user("Marketing", "marketing"))

    page = client.get("/admin/dashboard/").content.decode()
    export = client.get("/admin/dashboard/liability.csv")

    assert '<strong id="breakage-rate">70.0%</strong>' in page
    assert '<td class="num" id="expected-liability">0.45</td>' in page
    assert '<td class="num" id="ageing-total">1.50</td>' in page
    assert export.status_code == HTTPStatus.OK
    rows = list(csv.reader(io.StringIO(export.content.decode())))
    assert rows[0] == ["Figure", "Points", "Value"]
    assert ["Expiring within 30 days", "10", "0.10"] in rows
    assert ["Held in lots", "150", "1.50"] in rows
    assert ["Breakage rate (%)", "", "70.0"] in rows
    assert ["Expected liability", "", "0.45"] in rows


def test_csv_cells_that_look_like_formulas_are_escaped():
    assert escape_cell('=HYPERLINK("x")') == '\'=HYPERLINK("x")'
    assert escape_cell("+1") == "'+1"
    assert escape_cell("@SUM(A1)") == "'@SUM(A1)"
    assert escape_cell("-2") == "'-2"
    assert escape_cell(-2) == -2
    assert escape_cell(Decimal("-0.45")) == Decimal("-0.45")
    assert escape_cell("Pending") == "Pending"
