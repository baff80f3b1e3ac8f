"""Cohort retention, lifetime value and 90-day retention, exact on hand-computed programs (both
engines). The rollups themselves equal a recomputation in `test_rollups.py`.

Cohorts (M = this month; A, B, C = the three months before; every day at noon):

    cohort A: a1 a2 a3 a4 enrolled on A's 5th
        a1  A: 100.00 (10th) + 20.00 (12th)   B: 50.00   C: 50.00
        a2  A: 40.00
        a3  C: 20.00
        a4  nothing
    cohort B: b1 b2 enrolled on B's 5th
        b1  B: 80.00   C: 20.00
        b2  nothing

    heat map A: 2/4 = 50.0%, 1/4 = 25.0%, 2/4 = 50.0%, 0.0% (M)    B: 50.0%, 50.0%, 0.0% (M)
    complete months: A, B, C (M is still running)
    cohort A: N 4, 6 orders, 280.00, 5 buying months; r = (1 + 2) ÷ (4 × 2) = 37.5%;
              L = 8 ÷ 5 = 1.6; historic 70.00; average order 46.67; f 1.20;
              predicted = 280 ÷ 5 × 1.6 = 89.60
    cohort B: N 2, 2 orders, 100.00, 2 buying months; r = 1 ÷ (2 × 1) = 50.0%; L = 2.0;
              historic 50.00; predicted = 50 × 2 = 100.00
    all:      N 6, 8 orders, 380.00, 7 buying months; r = 4 ÷ 10 = 40.0%; L = 10 ÷ 6 → 1.7;
              historic 63.33; average order 47.50; f 1.14; predicted = 380 ÷ 7 × 1.7 = 92.29
    by tier (no ladder: one entry tier): members 4, 6, 6 at the ends of A, B, C → 16
              member-months; buyers 2, 2, 3 → r = 7 ÷ 16 = 43.8%; L = 16 ÷ 9 → 1.8;
              revenue per member-month 380 ÷ 16 = 23.75; predicted = 380 ÷ 7 × 1.8 = 97.71
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from analytics.selectors.cohorts import cohorts, tier_values
from analytics.selectors.customers import retention_90
from analytics.selectors.period import last_days
from analytics.services.refresh import rollups_rebuild, rollups_refresh
from tests.analytics.test_rollups import guest, noon
from tests.loyalty.staff import client_for, staff_user

pytestmark = pytest.mark.django_db

DAY = dt.timedelta(days=1)


def months_back(n: int) -> dt.date:
    month = timezone.localdate().replace(day=1)
    for _ in range(n):
        month = (month - DAY).replace(day=1)
    return month


def at(month: dt.date, day: int) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(month.replace(day=day), dt.time(12)))


@pytest.fixture
def cohort_program(make_member, record_order):
    a, b, c = months_back(3), months_back(2), months_back(1)
    a1, a2, a3, _a4 = (make_member(enrolled_at=at(a, 5)) for _ in range(4))
    b1, _b2 = (make_member(enrolled_at=at(b, 5)) for _ in range(2))
    for member, month, day, total in (
        (a1, a, 10, "100.00"),
        (a1, a, 12, "20.00"),
        (a1, b, 10, "50.00"),
        (a1, c, 10, "50.00"),
        (a2, a, 10, "40.00"),
        (a3, c, 10, "20.00"),
        (b1, b, 10, "80.00"),
        (b1, c, 10, "20.00"),
    ):
        placed = at(month, day)
        record_order(member, None, total, placed_at=placed, now=placed)
    return a, b


def _shares(cohort) -> list:
    return [cell["share"] for cell in cohort.cells]


def test_the_cohort_heat_map(cohort_program):
    a, b = cohort_program
    rollups_rebuild()

    found = cohorts(last_days(30))

    rows = {row.month: row for row in found["rows"]}
    assert sorted(rows) == [a, b]
    assert _shares(rows[a]) == [Decimal("50.0"), Decimal("25.0"), Decimal("50.0"), Decimal("0.0")]
    assert _shares(rows[b]) == [Decimal("50.0"), Decimal("50.0"), Decimal("0.0")]
    assert [cell["shade"] for cell in rows[a].cells] == [5, 2, 5, 0]
    assert rows[a].value.members == 4


def _clv(value) -> tuple:
    return (
        value.members,
        value.orders,
        value.revenue,
        value.historic,
        value.average_order,
        value.frequency,
        value.retention,
        value.lifetime,
        value.predicted,
    )


def test_lifetime_value_by_cohort_and_pooled(cohort_program):
    a, b = cohort_program
    rollups_rebuild()

    found = cohorts(last_days(30))

    rows = {row.month: row.value for row in found["rows"]}
    assert _clv(rows[a]) == (
        4,
        6,
        Decimal("280.00"),
        Decimal("70.00"),
        Decimal("46.67"),
        Decimal("1.20"),
        Decimal("37.5"),
        Decimal("1.6"),
        Decimal("89.60"),
    )
    assert _clv(rows[b])[3:] == (
        Decimal("50.00"),
        Decimal("50.00"),
        Decimal("1.00"),
        Decimal("50.0"),
        Decimal("2.0"),
        Decimal("100.00"),
    )
    assert _clv(found["all"]) == (
        6,
        8,
        Decimal("380.00"),
        Decimal("63.33"),
        Decimal("47.50"),
        Decimal("1.14"),
        Decimal("40.0"),
        Decimal("1.7"),
        Decimal("92.29"),
    )


def test_lifetime_value_by_tier(cohort_program):
    rollups_rebuild()

    [(tier, value)] = tier_values(last_days(30), tiers=[])

    assert tier is None
    assert (value.members, value.member_months, value.retained) == (6, 16, 7)
    assert (value.retention, value.lifetime, value.predicted) == (
        Decimal("43.8"),
        Decimal("1.8"),
        Decimal("97.71"),
    )
    assert value.revenue_per_member_month == Decimal("23.75")


def test_a_cohort_without_a_complete_month_predicts_nothing(make_member, record_order):
    member = make_member(enrolled_at=noon(0))
    record_order(member, "O-1", "10.00", placed_at=noon(0), now=noon(0))
    rollups_rebuild()

    found = cohorts(last_days(30))

    assert (found["all"].historic, found["all"].retention, found["all"].predicted) == (
        Decimal("10.00"),
        None,
        None,
    )


def test_a_back_dated_order_refreshes_its_month(cohort_program, make_member, record_order):
    a, _b = cohort_program
    rollups_rebuild()
    member = make_member(enrolled_at=at(a, 5))

    record_order(member, "LATE", "60.00", placed_at=at(a, 20), now=at(a, 20))
    rollups_refresh()

    rows = {row.month: row for row in cohorts(last_days(30))["rows"]}
    assert _shares(rows[a])[0] == Decimal("60.0")  # 3 of 5


@pytest.fixture
def returning(make_member, record_order):
    """m1 at T−150, T−100, T−20 (both window days retained); m2 at T−120, T−10 (110 days
    later: not retained); m3 at T−95 (retained by T−94) and T−94 (not); guests g1 at T−170 and
    T−85 (retained), g2 at T−130 (not). Window: T−179..T−90."""
    m1, m2, m3 = make_member(), make_member(), make_member()
    for member, days in ((m1, (150, 100, 20)), (m2, (120, 10)), (m3, (95, 94))):
        for n in days:
            record_order(member, None, "10.00", placed_at=noon(n), now=noon(n))
    guest("G1", "g1", "10.00", 170)
    guest("G2", "g1", "10.00", 85)
    guest("G3", "g2", "10.00", 130)


def test_90_day_retention_of_members_and_guests(returning):
    rollups_rebuild()

    found = retention_90(last_days(30))

    assert found["window"].first == timezone.localdate() - 179 * DAY
    assert found["window"].last == timezone.localdate() - 90 * DAY
    assert found["rates"] == {
        "paid": None,
        "free": Decimal("60.0"),  # 3 of 5 buyer-days
        "members": Decimal("60.0"),
        "guests": Decimal("50.0"),  # 1 of 2
    }


def test_an_order_refreshes_the_retention_of_the_90_days_before(returning, record_order):
    from loyalty.models import Order

    rollups_rebuild()
    m2 = Order.objects.get(placed_at=noon(120)).member

    record_order(m2, "M2-AGAIN", "10.00", placed_at=noon(60), now=noon(60))
    rollups_refresh()

    assert retention_90(last_days(30))["rates"]["members"] == Decimal("80.0")  # 4 of 5


def test_the_page_shows_cohorts_lifetime_value_and_retention(cohort_program, returning):
    a, _b = cohort_program
    rollups_rebuild()

    page = client_for(staff_user("Marketing", "marketing")).get("/admin/dashboard/")

    content = page.content.decode()
    assert f'id="cohort-{a:%Y-%m}-1" title="1 ordered">25.0%</td>' in content
    assert 'class="num heat-5"' in content
    assert f'id="clv-{a:%Y-%m}-predicted">89.60</td>' in content
    assert "Predicted value = average order × orders per buying month" in content
    assert '<td class="num" id="guests-retention_90">50.0%</td>' in content
    assert '<td class="num" id="paid-retention_90">—</td>' in content
