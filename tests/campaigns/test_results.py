"""A campaign's results: lift against its holdout (`campaigns.results`), attributed figures, and
stacked campaigns counted once in totals.

The lift scenario (hand-computed, the worked example of `tests/campaigns/test_stats.py`): eight
members, four treated and four held out by the campaign's hash (the test makes campaigns until
one splits them 4/4: which members fall where depends on ids, the figures do not). In the window
the treated order 10, 20, 30, 40 (each gets the ×2 bonus: 100 points, 1.00 GBP at 0.01 a point);
the held out order 10, 20, 30 and one orders nothing (a 0):
- revenue per member 25.00 against 15.00; difference 10 with ν = 6, t = 2.446912,
  se = 9.128709: [−12.337147, 32.337147];
- incremental revenue = 10 × 4 treated = 40.00 [−49.35, 129.35]; ROI = 40.00 ÷ 1.00 = 40.00
  [−49.35, 129.35];
- orders per member 1.000 against 0.750: difference 0.25, se = 0.25, ν = 3, t = 3.182446:
  [−0.546, 1.046].
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from http import HTTPStatus

from campaigns.holdout import held_out
from campaigns.results import campaign_lift_report
from campaigns.selectors import campaign_report, campaign_report_totals
from campaigns.services.manage import campaign_delete, campaign_results
from loyalty.selectors.reports import report_period
from members.actors import Actor
from tests.campaigns.factories import make_campaign

D = Decimal
START = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
END = START + dt.timedelta(days=7)
NOW = END + dt.timedelta(days=30)


def split_campaign(members, **fields):
    """A campaign whose hash holds out exactly half of `members` (others made are deleted)."""
    for attempt in range(60):
        campaign = make_campaign(f"lift-{attempt}", "multiplier", **fields)
        out = [m for m in members if held_out(campaign, member_id=m.pk)]
        if 2 * len(out) == len(members):
            return campaign, [m for m in members if m not in out], out
        campaign_delete(campaign=campaign, actor=Actor.system("tests"))
    raise AssertionError("no 4/4 split in 60 campaigns")


def lift_scenario(make_member, record_order):
    members = [make_member() for _ in range(8)]
    campaign, treated, holdout = split_campaign(
        members,
        multiplier=D("2.00"),
        holdout_percent=50,
        starts_at=START,
        ends_at=END,
    )
    at = START + dt.timedelta(days=1)
    for i, (member, amount) in enumerate(zip(treated, ("10", "20", "30", "40"), strict=True)):
        record_order(member, f"T-{i}", amount, placed_at=at)
    for i, (member, amount) in enumerate(zip(holdout, ("10", "20", "30"), strict=False)):
        record_order(member, f"H-{i}", amount, placed_at=at)
    return campaign, treated, holdout


def test_the_lift_against_the_holdout_is_the_worked_example(make_member, record_order):
    campaign, _treated, holdout = lift_scenario(make_member, record_order)

    report = campaign_lift_report(campaign=campaign, points_awarded=100, now=NOW, days_after=0)

    lift = report.during
    assert (report.measured, report.after) == (True, None)
    assert (lift.treated.members, lift.treated.buyers, lift.treated.revenue) == (4, 4, D("100"))
    assert (lift.holdout.members, lift.holdout.buyers, lift.holdout.revenue) == (4, 3, D("60"))
    assert (lift.treated.revenue_per_member, lift.holdout.revenue_per_member) == (
        D("25.00"),
        D("15.00"),
    )
    assert (lift.treated.orders_per_member, lift.holdout.orders_per_member) == (
        D("1.000"),
        D("0.750"),
    )
    rpm = lift.revenue_per_member
    assert (rpm.difference, rpm.t, rpm.df.quantize(D("0.001"))) == (
        D(10),
        D("2.446911851"),
        D("6.000"),
    )
    assert (rpm.low.quantize(D("0.000001")), rpm.high.quantize(D("0.000001"))) == (
        D("-12.337147"),
        D("32.337147"),
    )
    assert lift.cost == D("1.00")
    assert lift.incremental_revenue == (D("40.00"), D("-49.35"), D("129.35"))
    assert lift.incremental_roi == (D("40.00"), D("-49.35"), D("129.35"))
    opm = lift.orders_per_member
    assert (opm.difference, opm.t, opm.df.quantize(D("0.001"))) == (
        D("0.25"),
        D("3.182446305"),
        D("3.000"),
    )
    assert (opm.low.quantize(D("0.001")), opm.high.quantize(D("0.001"))) == (
        D("-0.546"),
        D("1.046"),
    )
    # The held-out members got nothing: the bonus went to the treated only.
    assert campaign_results(campaign=campaign).points_awarded == 100
    assert holdout  # (four of them, one without an order)


def test_the_window_after_the_end_counts_later_orders_too(make_member, record_order):
    campaign, treated, _holdout = lift_scenario(make_member, record_order)
    record_order(treated[0], "T-after", "40.00", placed_at=END + dt.timedelta(days=3))
    record_order(treated[1], "T-late", "99.00", placed_at=END + dt.timedelta(days=20))

    report = campaign_lift_report(campaign=campaign, points_awarded=100, now=NOW, days_after=14)

    assert report.during.treated.revenue == D("100")
    assert report.after.treated.revenue == D("140")
    assert report.after.end == END + dt.timedelta(days=14)
    assert report.after.treated.revenue_per_member == D("35.00")
    assert report.after.incremental_revenue[0] == D("80.00")


def test_without_a_holdout_the_return_is_attributed_only(member, record_order, admin_client):
    campaign = make_campaign("plain", "multiplier", multiplier=D("2.00"), starts_at=START)
    record_order(member, "O-1", "50.00", placed_at=START + dt.timedelta(hours=1))

    page = admin_client.get(f"/admin/campaigns/campaign/{campaign.pk}/results/").content.decode()

    assert campaign_lift_report(campaign=campaign, points_awarded=50).measured is False
    assert "Attributed revenue (those orders)" in page
    assert '<td id="revenue">50.00 GBP</td>' in page
    assert 'id="lift-none"' in page


def test_the_results_page_shows_the_lift(make_member, record_order, admin_client):
    campaign, _treated, _holdout = lift_scenario(make_member, record_order)

    response = admin_client.get(
        f"/admin/campaigns/campaign/{campaign.pk}/results/", {"days_after": "0"}
    )

    page = response.content.decode()
    assert response.status_code == HTTPStatus.OK
    assert '<td class="treated-members">4</td>' in page
    assert '<td class="holdout-rpm">15.00</td>' in page
    assert '<td class="incremental">40.00 [-49.35, 129.35] GBP</td>' in page
    assert '<td class="roi">40.00 [-49.35, 129.35]</td>' in page


def test_stacked_campaigns_count_an_order_once_in_the_totals(member, record_order):
    fridays = make_campaign("fridays", "multiplier", multiplier=D("2.00"), starts_at=START)
    make_campaign("member-day", "multiplier", multiplier=D("2.00"), starts_at=START)
    at = NOW - dt.timedelta(days=1)
    record_order(member, "O-1", "100.00", placed_at=at)  # both bonuses: 100 + 100 points
    record_order(member, "O-2", "30.00", placed_at=at)  # both again: 30 + 30
    period = report_period(days=7, now=NOW)

    lines = campaign_report(period=period, point_value=D("0.01"))
    totals = campaign_report_totals(period=period, point_value=D("0.01"))

    # Each campaign's line attributes both orders to it …
    assert [(c.campaign.code, c.orders, c.revenue) for c in lines] == [
        ("fridays", 2, D("130.00")),
        ("member-day", 2, D("130.00")),
    ]
    # … the total counts each order once: 130.00, not 260.00; the cost is both bonuses.
    assert (totals.points, totals.orders, totals.revenue, totals.cost) == (
        260,
        2,
        D("130.00"),
        D("2.60"),
    )
    assert totals.return_ratio == D("50.00")
    shared = campaign_results(campaign=fridays)
    assert (shared.orders, shared.revenue, shared.shared_orders, shared.shared_revenue) == (
        2,
        D("130.00"),
        2,
        D("130.00"),
    )
