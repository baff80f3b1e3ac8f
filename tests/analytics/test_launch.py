"""Before and after the program's launch, exact on a hand-computed program (both engines); the
launch date as a program setting (admin form, audit, configuration file).

M = this month; launched on the 15th of M−3, so W = 2 complete months after the launch month
(M−2, M−1) and the windows are M−5..M−4 (before) and M−2..M−1 (after); M−3 is left out. The
same customers: enrolled before M−5.

    c1 enrolled M−8   M−5: 50.00   M−4: 50.00   M−3: 999.00 (left out)   M−2: 60.00 + 60.00
                      M−1: 80.00
    c2 enrolled M−7   M−5: 40.00
    c3 enrolled M−4   M−2: 100.00 (not one of the same customers)
    c4 enrolled M−6   M−1: 20.00

    N = 3 (c1, c2, c4)
    before: 3 orders, 140.00, 3 buying months    after: 4 orders, 220.00, 3 buying months
    orders per customer per month 0.50 → 0.67 (+33.3%); average order 46.67 → 55.00 (+17.9%);
    customers ordering in a month 50.0% → 50.0% (0.0%); revenue per customer 46.67 → 73.33
    (+57.1%)
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from http import HTTPStatus

import pytest

from analytics.selectors.launch import before_after
from analytics.selectors.period import last_days
from analytics.services.refresh import rollups_rebuild
from loyalty.selectors.program import program_settings
from loyalty.services.program import program_settings_update
from loyalty.services.program_config import program_config_export, program_config_validate
from members.models import AuditEntry
from tests.analytics.test_cohorts import at, months_back
from tests.loyalty.staff import client_for, staff_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def launched(make_member, record_order):
    enrolled = {"c1": 8, "c2": 7, "c3": 4, "c4": 6}
    m = {name: make_member(enrolled_at=at(months_back(n), 5)) for name, n in enrolled.items()}
    for name, back, day, total in (
        ("c1", 5, 10, "50.00"),
        ("c1", 4, 10, "50.00"),
        ("c1", 3, 10, "999.00"),
        ("c1", 2, 10, "60.00"),
        ("c1", 2, 12, "60.00"),
        ("c1", 1, 10, "80.00"),
        ("c2", 5, 10, "40.00"),
        ("c3", 2, 10, "100.00"),
        ("c4", 1, 10, "20.00"),
    ):
        placed = at(months_back(back), day)
        record_order(m[name], None, total, placed_at=placed, now=placed)
    rollups_rebuild()
    return months_back(3).replace(day=15)


def test_the_same_customers_before_and_after_the_launch(launched):
    found = before_after(last_days(30), launched_at=launched)

    before, after = found["before"], found["after"]
    assert found["state"] == "ready"
    assert (before.first, before.last, after.first, after.last) == (
        months_back(5),
        months_back(4),
        months_back(2),
        months_back(1),
    )
    assert (before.customers, before.months) == (3, 2)
    assert (before.orders, before.revenue, after.orders, after.revenue) == (
        3,
        Decimal("140.00"),
        4,
        Decimal("220.00"),
    )
    assert [before.frequency, before.average_order, before.buying_share] == [
        Decimal("0.50"),
        Decimal("46.67"),
        Decimal("50.0"),
    ]
    assert [after.frequency, after.average_order, after.revenue_per_customer] == [
        Decimal("0.67"),
        Decimal("55.00"),
        Decimal("73.33"),
    ]
    assert found["changes"] == {
        "frequency": Decimal("33.3"),
        "average_order": Decimal("17.9"),
        "buying_share": Decimal("0.0"),
        "revenue_per_customer": Decimal("57.1"),
    }


def test_without_a_launch_date_or_a_complete_month_after_it(db):
    assert before_after(last_days(30), launched_at=None)["state"] == "unset"
    last_month = months_back(1).replace(day=20)
    assert before_after(last_days(30), launched_at=last_month)["state"] == "too_early"


def test_the_launch_date_is_a_setting_marketing_edits_and_the_audit_keeps(db):
    from tests.loyalty.test_admin_program import SETTINGS_URL, _form_data

    client = client_for(staff_user("Marketing", "marketing"))

    response = client.post(SETTINGS_URL, _form_data(launched_at="2025-03-01", reason="launch"))

    assert response.status_code == HTTPStatus.FOUND
    assert program_settings().launched_at == dt.date(2025, 3, 1)
    entry = AuditEntry.objects.get(action="program_settings.update")
    assert entry.changes == {"launched_at": [None, "2025-03-01"]}
    assert entry.reason == "launch"


def test_the_launch_date_in_the_configuration_file(db, system_actor):
    program_settings_update(actor=system_actor, launched_at=dt.date(2025, 3, 1))

    exported = program_config_export()

    assert exported["settings"]["launched_at"] == "2025-03-01"
    assert json.loads(json.dumps(exported)) == exported
    problems = program_config_validate({"version": 1, "settings": {"launched_at": "March"}})
    assert [(p.path, p.message) for p in problems] == [
        ("settings.launched_at", 'A date "YYYY-MM-DD", or null.')
    ]
    assert program_config_validate({"version": 1, "settings": {"launched_at": None}}) == []


def test_the_page_shows_before_and_after_with_its_caveat(launched, system_actor):
    program_settings_update(actor=system_actor, launched_at=launched)
    client = client_for(staff_user("Marketing", "marketing"))

    content = client.get("/admin/dashboard/").content.decode()

    assert '<td class="num" id="launch-average_order-change">+17.9%</td>' in content
    assert "Caveat: this compares the same customers before and after" in content


def test_the_page_says_when_the_launch_date_is_not_set(db):
    client = client_for(staff_user("Marketing", "marketing"))

    content = client.get("/admin/dashboard/").content.decode()

    assert 'id="launch-unset"' in content
