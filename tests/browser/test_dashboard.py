"""The program dashboard in Chromium: every chart is drawn, the period can be switched (presets,
any range, a comparison) and the page never logs a console error. A failure keeps a screenshot
and the console log (`tests/browser/conftest.py`)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from analytics.services.refresh import rollups_rebuild
from loyalty.demo import demo_tiers_ensure
from loyalty.services.guests import guest_order_record
from loyalty.services.orders import order_record
from members.actors import Actor
from members.roles import MARKETING
from members.services import member_enrol

pytestmark = pytest.mark.django_db(transaction=True)

CHARTS = (
    "points-chart",
    "liability-chart",
    "tiers-chart",
    "active-chart",
    "repeat-chart",
    "revenue-chart",
)


def _program() -> None:
    actor = Actor.system("tests")
    now = timezone.now()
    demo_tiers_ensure()
    for n in range(3):
        member = member_enrol(
            external_id=f"C-{n}",
            email=f"c{n}@example.com",
            actor=actor,
            enrolled_at=now - dt.timedelta(days=500),
        )
        for k in range(4):
            placed = now - dt.timedelta(days=5 + 90 * k + n)
            order_record(
                order_id=f"O-{n}-{k}",
                member=member,
                placed_at=placed,
                currency="GBP",
                total=Decimal("80.00"),
                actor=actor,
                now=placed,
            )
    guest_order_record(
        order_id="G-1",
        guest_key="guest-1",
        placed_at=now - dt.timedelta(days=3),
        currency="GBP",
        total=Decimal("25.00"),
    )
    rollups_rebuild()


def _charts_drawn(page) -> None:
    for chart in CHARTS:
        expect(page.locator(f"#{chart}[data-rendered=true]")).to_be_visible()
        expect(page.locator(f"#{chart}-table tbody tr").first).to_be_visible()


# The sections on the program's effect (tables, no chart): each heading and what shows under it.
SECTIONS = (
    ("Redemption and coupon usage rates", "#redemption-rate tbody tr"),
    ("Referral funnel", "#referral-funnel tbody tr"),
    ("Satisfaction (NPS and CSAT)", "#nps-by-tier tbody tr"),
    ("Cohort retention", "#cohort-heat tbody tr"),
    ("Customer lifetime value", "#clv-cohorts tbody tr"),
    ("Before and after the program", "#launch-caveat"),
)


def _sections_shown(page) -> None:
    for heading, content in SECTIONS:
        expect(page.get_by_role("heading", name=heading)).to_be_visible()
        expect(page.locator(content).first).to_be_visible()


def test_the_dashboard_draws_every_chart_and_switches_periods(staff, login, live_server, console):
    _program()
    page = login(staff(MARKETING))

    page.goto(f"{live_server.url}/admin/dashboard/")
    _charts_drawn(page)
    expect(page.locator("#period-current")).to_contain_text("(30 days)")
    _sections_shown(page)

    page.get_by_role("link", name="last 365 days").click()
    _charts_drawn(page)
    expect(page.locator("#period-current")).to_contain_text("(365 days)")
    expect(page.locator("#kpi-orders")).to_have_text("12")

    today = timezone.localdate()
    page.fill("#period-from", (today - dt.timedelta(days=99)).isoformat())
    page.fill("#period-to", today.isoformat())
    page.select_option("#period-compare", "previous")
    page.locator("#period-apply").click()
    _charts_drawn(page)
    expect(page.locator("#period-current")).to_contain_text("(100 days)")
    expect(page.locator("#period-current")).to_contain_text("Compared with")
    expect(page.locator("#kpi-orders")).to_have_text("6")
    expect(page.locator("#kpi-orders-delta")).to_contain_text("+3 (+100.0%)")
    expect(page.locator("#kpi-guest-revenue")).to_have_text("25.00")
    _sections_shown(page)
    assert console == []
