"""Members against guests, and paid against free members, on the hand-computed program of
`test_rollups.py` (members: 3 orders, 180.00 on 3 buyer-days, 1 a repeat; guests: 3 orders,
70.00 on 3 buyer-days, 1 a repeat; nobody has a paid plan)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from analytics.selectors.customers import customer_groups, uplift
from analytics.selectors.period import last_days
from analytics.selectors.trends import period_figures
from analytics.services.refresh import rollups_rebuild
from tests.analytics.test_rollups import small_program  # noqa: F401 (the fixture, by name)
from tests.loyalty.staff import client_for, staff_user

pytestmark = pytest.mark.django_db


def test_members_against_guests_and_the_uplift(small_program):  # noqa: F811
    rollups_rebuild()
    period = last_days(30)

    found = customer_groups(period, period_figures(period))

    paid, free, members, guests = found["groups"]
    assert (paid.orders, paid.revenue, paid.buyers) == (0, Decimal("0.00"), 0)
    assert (free.orders, free.revenue, free.buyers, free.repeat_buyers) == (
        3,
        Decimal("180.00"),
        3,
        1,
    )
    assert (members.revenue_per_buyer, members.frequency, members.average_order) == (
        Decimal("60.00"),
        Decimal("1.00"),
        Decimal("60.00"),
    )
    assert members.repeat_rate == Decimal("33.3")
    assert (guests.revenue_per_buyer, guests.average_order, guests.repeat_rate) == (
        Decimal("23.33"),
        Decimal("23.33"),
        Decimal("33.3"),
    )
    assert found["uplift"] == {
        "revenue_per_buyer": Decimal("157.2"),  # (60.00 − 23.33) ÷ 23.33
        "frequency": Decimal("0.0"),
        "average_order": Decimal("157.2"),
        "repeat_rate": Decimal("0.0"),
    }


def test_uplift_needs_a_guest_figure():
    assert uplift(Decimal("10"), None) is None
    assert uplift(Decimal("10"), Decimal("0")) is None
    assert uplift(Decimal("15"), Decimal("10")) == Decimal("50.0")
    assert uplift(Decimal("5"), Decimal("10")) == Decimal("-50.0")


def test_the_page_shows_members_against_guests(small_program):  # noqa: F811
    rollups_rebuild()

    page = client_for(staff_user("Marketing", "marketing")).get("/admin/dashboard/")

    content = page.content.decode()
    assert '<td class="num" id="uplift-revenue_per_buyer">+157.2%</td>' in content
    assert '<td class="num" id="guests-average_order">23.33</td>' in content
