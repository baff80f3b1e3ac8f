"""A campaign's preview before publishing: its expected cost over its window against its budget
(`campaigns.admin_pages.window_cost`), from the last 30 days' orders as the campaign would have
rewarded them (`campaign_preview`: holdout and per-member limit applied).

Scenario: in the last 30 days member A ordered 100.00 and member B 50.00; a ×3 campaign would
have cost (100 + 50) × 2 = 300 points. It starts tomorrow and runs 15 days: expected cost
300 × 15/30 = 150 points = 1.50 at 0.01 a point. Against a budget of 100: 150% of it, and at
10 points a day it runs out 10 days after the start.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from http import HTTPStatus

from django.utils import timezone

from campaigns.admin_pages import window_cost
from campaigns.services.manage import campaign_preview
from tests.campaigns.factories import make_campaign
from tests.campaigns.test_results import split_campaign

D = Decimal


def orders(make_member, record_order, now):
    a, b = make_member(), make_member()
    record_order(a, "O-A", "100.00", placed_at=now - dt.timedelta(days=3))
    record_order(b, "O-B", "50.00", placed_at=now - dt.timedelta(days=10))
    return a, b


def test_the_expected_cost_over_the_window_against_the_budget(make_member, record_order):
    now = timezone.now()
    orders(make_member, record_order, now)
    start = now + dt.timedelta(days=1)
    campaign = make_campaign(
        "spring",
        "multiplier",
        multiplier=D("3.00"),
        starts_at=start,
        ends_at=start + dt.timedelta(days=15),
        budget_points=100,
    )

    preview = campaign_preview(campaign=campaign, now=now)
    cost = window_cost(campaign, preview.cost_points_last_30_days, point_value=D("0.01"), now=now)

    assert (preview.orders_last_30_days, preview.cost_points_last_30_days) == (2, 300)
    assert (cost.start, cost.end, cost.days) == (start, start + dt.timedelta(days=15), D("15.00"))
    assert (cost.points, cost.money, cost.budget_left, cost.share) == (150, D("1.50"), 100, 150)
    assert cost.runs_out_on == timezone.localdate(start + dt.timedelta(days=10))


def test_a_running_campaign_is_projected_over_what_is_left_of_its_window(make_member, record_order):
    now = timezone.now()
    orders(make_member, record_order, now)
    campaign = make_campaign(
        "running",
        "multiplier",
        multiplier=D("3.00"),
        starts_at=now - dt.timedelta(days=5),
        ends_at=now + dt.timedelta(days=6),
        budget_points=1000,
    )

    cost = window_cost(campaign, 300, point_value=D("0.01"), now=now)

    # 6 days left: 300 × 6/30 = 60 points, 6% of the 1,000 left (the orders predate the window).
    assert (cost.days, cost.points, cost.share, cost.runs_out_on) == (D("6.00"), 60, 6, None)
    assert window_cost(campaign, 300, point_value=D("0.01"), now=now + dt.timedelta(days=7)) is None


def test_held_out_members_and_the_per_member_limit_are_left_out_of_the_cost(
    make_member, record_order
):
    now = timezone.now()
    a, b = make_member(), make_member()
    campaign, (treated,), _held = split_campaign(
        [a, b], multiplier=D("3.00"), holdout_percent=50, per_member_limit=2
    )
    held = b if treated == a else a
    for i, days in enumerate((2, 3, 4)):
        record_order(treated, f"T-{i}", "10.00", placed_at=now - dt.timedelta(days=days))
    record_order(held, "H-1", "500.00", placed_at=now - dt.timedelta(days=2))

    preview = campaign_preview(campaign=campaign, now=now)

    # The treated member's first two orders (limit 2): (10 + 10) × 2 = 40; the held-out member's
    # 500.00 earns no bonus, so costs nothing.
    assert (preview.orders_last_30_days, preview.cost_points_last_30_days) == (2, 40)


def test_the_preview_page_shows_the_expected_cost(admin_client, make_member, record_order):
    now = timezone.now()
    orders(make_member, record_order, now)
    start = now + dt.timedelta(days=1)
    campaign = make_campaign(
        "spring",
        "multiplier",
        multiplier=D("3.00"),
        starts_at=start,
        ends_at=start + dt.timedelta(days=15),
        budget_points=100,
        holdout_percent=10,
    )

    response = admin_client.get(f"/admin/campaigns/campaign/{campaign.pk}/preview/")

    page = response.content.decode()
    assert response.status_code == HTTPStatus.OK
    # Which of the two members the 10% holdout leaves out depends on their ids: the figures are
    # the functions' (tested above); the page shows them with their labels.
    assert "Expected cost over the campaign's 15.00 days left" in page
    assert 'id="window-cost">' in page
    assert 'id="window-budget"' in page
    assert "10% of the targeted members get no bonus" in page
