"""The program dashboard: exact figures on a hand-built program, who may see it, its query budget.

The scenario (N = now; point value 0.01; pending 14 days; points live 365 days once available;
tiers Bronze 0 / Silver 150 ×1.5 / Gold 1000 ×2; campaign "double" ×2 from N−20d, "old" ×1.5 from
N−100d to N−50d, "review" an action bonus nobody earned):

    A  enrolled N−500d  A1 100.00 at N−400d: 100 pts, available N−386d, expire N−21d (daily job)
                        A2  50.00 at N−5d:    50 + double 50
    B  enrolled N−100d  B1 200.00 at N−60d:  200 + old 100; now Silver (200 ≥ 150)
                        B2  80.00 at N−10d:   80 + tier 40 + double 80
                        spends 150 (N−1d) and 30 (N−1h), the 30 given back (N−30m)
    C  enrolled N−10d   C1 120.00 at N−3d:   120 + double 120; refunded 60.00 at N−1d: −120
    D  enrolled N−2d    adjusted +25 and −5 (N−1d); the −5 reversed by staff (+5); Gold override
    E  enrolled N−40d   E1 100.00 at N−40d:  100; spends 100 (N−2d); refunded in full (N−1d):
                        −100, all of it a debt
    F  enrolled N−300d  erased
"""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal
from http import HTTPStatus

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from analytics.services.refresh import rollups_rebuild
from campaigns.selectors import campaign_report, reward_report
from loyalty.models import Posting
from loyalty.selectors.reports import (
    member_counts,
    members_by_tier,
    order_figures,
    points_flows,
    points_outstanding,
    report_period,
)
from loyalty.services.jobs import daily_jobs_run
from loyalty.services.points import points_adjust_post, points_return, points_spend, posting_reverse
from loyalty.services.program import program_settings_update
from loyalty.services.tier_config import tier_save
from loyalty.services.tiers import tier_override
from members.services import member_erase
from tests.campaigns.factories import make_campaign
from tests.loyalty.staff import client_for, staff_user

pytestmark = pytest.mark.django_db

DAY = dt.timedelta(days=1)
URL = "/admin/dashboard/"
POINT_VALUE = Decimal("0.01")


def ladder(actor):
    return {
        code: tier_save(
            actor=actor,
            code=code,
            name=code.title(),
            rank=rank,
            threshold=Decimal(threshold),
            multiplier=Decimal(multiplier),
        )
        for code, rank, threshold, multiplier in (
            ("bronze", 0, "0", "1"),
            ("silver", 1, "150", "1.5"),
            ("gold", 2, "1000", "2"),
        )
    }


def spend(member, points, key, now, actor):
    with transaction.atomic():
        return points_spend(member=member, points=points, actor=actor, idempotency_key=key, now=now)


@pytest.fixture
def program(make_member, record_order, record_refund, system_actor):
    """The scenario of the module docstring; returns (now, members by letter, tiers by code)."""
    now = timezone.now()
    tiers = ladder(system_actor)
    make_campaign("double", "multiplier", multiplier=Decimal("2"), starts_at=now - 20 * DAY)
    make_campaign(
        "old",
        "multiplier",
        multiplier=Decimal("1.5"),
        starts_at=now - 100 * DAY,
        ends_at=now - 50 * DAY,
    )
    make_campaign("review", "action", action="review", points=10, starts_at=now - 20 * DAY)
    enrolled = {"A": 500, "B": 100, "C": 10, "D": 2, "E": 40, "F": 300}
    m = {k: make_member(enrolled_at=now - days * DAY) for k, days in enrolled.items()}

    record_order(m["A"], "A1", "100.00", placed_at=now - 400 * DAY)
    record_order(m["B"], "B1", "200.00", placed_at=now - 60 * DAY)
    record_order(m["E"], "E1", "100.00", placed_at=now - 40 * DAY)
    record_order(m["B"], "B2", "80.00", placed_at=now - 10 * DAY)
    record_order(m["A"], "A2", "50.00", placed_at=now - 5 * DAY)
    record_order(m["C"], "C1", "120.00", placed_at=now - 3 * DAY)
    daily_jobs_run()  # matures B1 and E1, expires A1's 100

    spend(m["E"], 100, "spend-e", now - 2 * DAY, system_actor)
    spend(m["B"], 150, "spend-b1", now - DAY, system_actor)
    record_refund("C1", "R-C1", "60.00", refunded_at=now - DAY, now=now - DAY)
    record_refund("E1", "R-E1", "100.00", refunded_at=now - DAY, now=now - DAY)
    points_adjust_post(
        member=m["D"],
        points=25,
        reason="goodwill",
        actor=system_actor,
        idempotency_key="adj-d1",
        now=now - DAY,
    )
    minus = points_adjust_post(
        member=m["D"],
        points=-5,
        reason="typo",
        actor=system_actor,
        idempotency_key="adj-d2",
        now=now - DAY,
    )
    posting_reverse(posting=minus, reason="the typo was right", actor=system_actor, now=now - DAY)
    second = spend(m["B"], 30, "spend-b2", now - dt.timedelta(hours=1), system_actor)
    with transaction.atomic():
        points_return(
            spend=second,
            actor=system_actor,
            idempotency_key="return-b2",
            now=now - dt.timedelta(minutes=30),
        )
    tier_override(
        member=m["D"],
        tier=tiers["gold"],
        until=timezone.localdate(now) + 10 * DAY,
        reason="VIP",
        actor=system_actor,
    )
    member_erase(member=m["F"], actor=system_actor)
    return now, m, tiers


def test_members_by_tier_count_the_effective_tier_and_the_entry_tier_without_a_row(program):
    now, _m, _tiers = program
    today = timezone.localdate(now)

    rows = [(r.tier.code, r.members, r.share) for r in members_by_tier(today=today)]
    after_override = [(r.tier.code, r.members) for r in members_by_tier(today=today + 30 * DAY)]

    # A, C, E never left Bronze (no row); B earned Silver; D is overridden to Gold; F is erased.
    assert rows == [
        ("bronze", 3, Decimal("60.0")),
        ("silver", 1, Decimal("20.0")),
        ("gold", 1, Decimal("20.0")),
    ]
    # Once the override has lapsed, D is back in the tier earned (the entry tier).
    assert after_override == [("bronze", 4), ("silver", 1), ("gold", 0)]


def test_members_without_any_tier_configured_are_counted_in_one_row(make_member):
    make_member()
    make_member()

    rows = [(r.tier, r.members, r.share) for r in members_by_tier()]

    assert rows == [(None, 2, Decimal("100.0"))]


def test_member_counts_and_new_members_per_period(program):
    now, _m, _tiers = program

    month = member_counts(period=report_period(days=30, now=now))
    week = member_counts(period=report_period(days=7, now=now))

    assert (month.active, month.suspended, month.erased, month.members) == (5, 0, 1, 5)
    assert (month.new, week.new) == (2, 1)  # C and D; D


def test_points_flows_in_30_days(program):
    now, _m, _tiers = program

    flows = points_flows(period=report_period(days=30, now=now))

    assert (flows.earned, flows.tier_bonus, flows.campaign_bonus, flows.issued) == (
        50 + 80 + 120,
        40,
        50 + 80 + 120,
        540,
    )
    assert (flows.redeemed_gross, flows.redemptions_cancelled, flows.redeemed) == (280, 30, 250)
    assert flows.expired == 100
    assert flows.refund_reversed == 120 + 100
    assert (flows.adjusted_added, flows.adjusted_removed, flows.adjusted) == (25, 5, 20)
    assert flows.staff_reversals == 5
    assert flows.net_change == 540 - 250 - 100 - 220 + 20 + 5
    # The period's net change is what the postings say.
    in_period = Posting.objects.filter(effective_at__gt=now - 30 * DAY, effective_at__lte=now)
    assert flows.net_change == sum(in_period.values_list("points", flat=True))


def test_points_flows_in_7_days_leave_out_older_movements(program):
    now, _m, _tiers = program

    flows = points_flows(period=report_period(days=7, now=now))

    # B2 (10 days ago) and the expiry (21 days ago) fall outside.
    assert (flows.earned, flows.tier_bonus, flows.campaign_bonus) == (170, 0, 170)
    assert (flows.redeemed, flows.expired, flows.refund_reversed) == (250, 0, 220)


def test_outstanding_points_and_liability_leave_debts_out(program):
    _now, _m, _tiers = program

    outstanding = points_outstanding(point_value=POINT_VALUE)

    # A 0 + 100 pending; B 150 + 200 pending; C 120 pending; D 25; E −100 (a debt).
    assert (outstanding.available, outstanding.pending) == (75, 420)
    assert (outstanding.liability_points, outstanding.debt_points) == (595, 100)
    assert outstanding.members_with_points == 4
    assert outstanding.liability == Decimal("5.95")


def test_liability_is_rounded_to_the_cent(make_member, record_order):
    record_order(make_member(), "O-1", "333.00")

    outstanding = points_outstanding(point_value=Decimal("0.0015"))

    assert outstanding.liability == Decimal("0.50")  # 333 × 0.0015 = 0.4995


def test_orders_revenue_and_repeat_purchase_rate(program):
    now, _m, _tiers = program

    week = order_figures(period=report_period(days=7, now=now))
    month = order_figures(period=report_period(days=30, now=now))
    quarter = order_figures(period=report_period(days=90, now=now))

    # A2 and C1; A had ordered before (A1).
    assert (week.orders, week.buyers, week.repeat_buyers, week.repeat_rate) == (
        2,
        2,
        1,
        Decimal("50.0"),
    )
    # A2, B2, C1; A and B had ordered before.
    assert (month.orders, month.revenue, month.refunded, month.net_revenue) == (
        3,
        Decimal("250.00"),
        Decimal("60.00"),
        Decimal("190.00"),
    )
    assert (month.buyers, month.repeat_buyers, month.repeat_rate) == (3, 2, Decimal("66.7"))
    assert month.average_order == Decimal("83.33")
    # B1, E1, B2, A2, C1: B's second order is in the period too; E and C ordered once.
    assert (quarter.orders, quarter.revenue, quarter.buyers, quarter.repeat_buyers) == (
        5,
        Decimal("550.00"),
        4,
        2,
    )


def test_two_orders_in_the_period_make_a_repeat_buyer(member, record_order):
    now = timezone.now()
    record_order(member, "O-1", "10.00", placed_at=now - 3 * DAY)
    record_order(member, "O-2", "10.00", placed_at=now - 3 * DAY)  # same instant

    figures = order_figures(period=report_period(days=7, now=now))

    assert (figures.buyers, figures.repeat_buyers, figures.repeat_rate) == (1, 1, Decimal("100.0"))


def test_no_orders_means_no_rate(db):
    figures = order_figures(period=report_period(days=7))

    assert (figures.orders, figures.revenue, figures.repeat_rate, figures.average_order) == (
        0,
        Decimal("0.00"),
        None,
        None,
    )


def test_campaigns_in_30_and_90_days(program):
    now, _m, _tiers = program

    def lines(days):
        period = report_period(days=days, now=now)
        return [
            (
                c.campaign.code,
                c.points,
                c.members,
                c.orders,
                c.revenue,
                c.cost,
                c.return_ratio,
            )
            for c in campaign_report(period=period, point_value=POINT_VALUE)
        ]

    assert lines(30) == [
        ("double", 250, 3, 3, Decimal("250.00"), Decimal("2.50"), Decimal("100.00")),
        ("review", 0, 0, 0, Decimal("0.00"), Decimal("0.00"), None),
    ]
    assert lines(90) == [
        ("double", 250, 3, 3, Decimal("250.00"), Decimal("2.50"), Decimal("100.00")),
        ("old", 100, 1, 1, Decimal("200.00"), Decimal("1.00"), Decimal("200.00")),
        ("review", 0, 0, 0, Decimal("0.00"), Decimal("0.00"), None),
    ]
    # The campaigns' awards are the ledger's campaign bonus.
    assert (
        sum(line[1] for line in lines(30))
        == points_flows(period=report_period(days=30, now=now)).campaign_bonus
    )


def test_a_campaign_switched_off_still_shows_what_it_awarded(member, record_order):
    from campaigns.services.manage import campaign_save
    from members.actors import Actor

    now = timezone.now()
    campaign = make_campaign(
        "flash", "multiplier", multiplier=Decimal("3"), starts_at=now - DAY * 9
    )
    record_order(member, "O-1", "10.00", placed_at=now - 2 * DAY)
    campaign.is_active = False
    campaign_save(campaign=campaign, actor=Actor.system("tests"))

    lines = campaign_report(period=report_period(days=7, now=now), point_value=POINT_VALUE)

    assert [(c.campaign.code, c.points, c.revenue) for c in lines] == [
        ("flash", 20, Decimal("10.00"))
    ]


def test_redemptions_by_reward(member, system_actor):
    from rewards.services import redemption_cancel, redemption_create, redemption_use, reward_create

    points_adjust_post(
        member=member,
        points=2000,
        reason="test",
        actor=system_actor,
        idempotency_key="k",
        now=timezone.now() - DAY,
    )
    for code, cost in (("FIVE", 500), ("TEN", 300)):
        reward_create(
            code=code,
            actor=system_actor,
            name=f"{code.title()} off",
            kind="fixed_discount",
            points_cost=cost,
            value=Decimal("5.00"),
        )
    first = redemption_create(member=member, reward_code="FIVE", actor=system_actor)
    second = redemption_create(member=member, reward_code="FIVE", actor=system_actor)
    redemption_create(member=member, reward_code="TEN", actor=system_actor)
    redemption_use(redemption=first.redemption, order_id="O-9", actor=system_actor)
    redemption_cancel(redemption=second.redemption, actor=system_actor)

    lines = reward_report(period=report_period(days=7))

    assert [(r.code, r.redemptions, r.used, r.cancelled, r.points) for r in lines] == [
        ("FIVE", 2, 1, 1, 500),
        ("TEN", 1, 0, 0, 300),
    ]


def test_the_page_shows_the_figures_to_marketing(program):
    client = client_for(staff_user("Marketing", "marketing"))
    rollups_rebuild()

    page = client.get(URL).content.decode()
    quarter = client.get(URL, {"days": "90"}).content.decode()

    assert "(30 days)." in page
    assert '<span class="value" id="kpi-members">5</span>' in page
    assert '<span class="value" id="kpi-new-members">2</span>' in page
    assert '<td class="num" id="liability-now">5.95 GBP</td>' in page
    assert '<span class="value" id="kpi-repeat-rate">66.7</span>' in page
    assert '<span class="value" id="kpi-revenue">250.00</span>' in page
    assert '<span class="value" id="kpi-issued">540</span>' in page
    assert '<span class="value" id="kpi-redeemed">250</span>' in page
    assert ">Double</a>" in page
    assert ">Old</a>" not in page  # it ended 50 days ago
    assert "(90 days)." in quarter
    assert ">Old</a>" in quarter


def test_the_page_renders_with_no_data_and_ignores_a_bad_period(db):
    client = client_for(staff_user("Marketing", "marketing"))

    response = client.get(URL, {"days": "12", "from": "2026-13-01"})

    assert response.status_code == HTTPStatus.OK
    assert "(30 days)." in response.content.decode()


@pytest.mark.parametrize("role", ["Marketing", "Customer service", "Supervisor", "Operator"])
def test_every_role_may_read_the_dashboard(db, role):
    response = client_for(staff_user(role, "staff")).get(URL)

    assert response.status_code == HTTPStatus.OK


def test_staff_without_the_permission_are_refused(db):
    response = client_for(staff_user(None, "nobody")).get(URL)

    assert response.status_code == HTTPStatus.FORBIDDEN


def test_non_staff_and_anonymous_users_are_sent_to_the_login(db, client):
    from django.contrib.auth.models import Group, User

    user = User.objects.create_user(username="customer", password="x")
    user.groups.add(Group.objects.get(name="Marketing"))  # a role without is_staff: no admin

    anonymous = client.get(URL)
    not_staff = client_for(user).get(URL)

    for response in (anonymous, not_staff):
        assert response.status_code == HTTPStatus.FOUND
        assert response["Location"].startswith("/admin/login/")


def test_the_admin_home_links_to_the_dashboard_for_those_who_may_read_it(db):
    marketing = client_for(staff_user("Marketing", "marketing")).get("/admin/")
    nobody = client_for(staff_user(None, "nobody")).get("/admin/")

    assert 'href="/admin/dashboard/"' in marketing.content.decode()
    assert 'href="/admin/dashboard/"' not in nobody.content.decode()


def _page_queries(client) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(URL).status_code == HTTPStatus.OK
    return len(queries)


def test_the_query_count_does_not_grow_with_the_data(
    make_member, record_order, record_refund, system_actor, django_assert_max_num_queries
):
    now = timezone.now()
    ladder(system_actor)
    make_campaign("double", "multiplier", multiplier=Decimal("2"), starts_at=now - 20 * DAY)
    make_campaign("review", "action", action="review", points=10, starts_at=now - 20 * DAY)
    program_settings_update(actor=system_actor, launched_at=(now - 200 * DAY).date())
    client = client_for(staff_user("Marketing", "marketing"))
    first = make_member()
    record_order(first, "S-1", "10.00", placed_at=now - DAY)
    client.get(URL)  # warm up: the program settings row, the session
    small = _page_queries(client)

    for n in range(30):
        member = make_member(enrolled_at=now - (n + 2) * DAY)
        record_order(member, f"M-{n}-1", "200.00", placed_at=now - (n + 2) * DAY)
        record_order(member, f"M-{n}-2", "20.00", placed_at=now - DAY)
        if n % 3 == 0:
            record_refund(f"M-{n}-2", f"R-{n}", "5.00", now=now)
    large = _page_queries(client)

    assert large == small
    # 24 before the effect sections; they add eleven aggregates: the redemption rate to date, the
    # referral funnel, satisfaction by month × tier × plan, 90-day retention (members by plan,
    # guests), cohort sizes, cohorts by month, tier stock by month, tiers by month, and with a
    # launch date the same customers' count and their months around it.
    with django_assert_max_num_queries(35):
        assert client.get(URL).status_code == HTTPStatus.OK


def test_points_by_week_add_up_to_the_period_and_list_every_week(program):
    from loyalty.selectors.reports import points_by_week

    now, _m, _tiers = program
    period = report_period(days=30, now=now)

    weeks = points_by_week(period=period)
    flows = points_flows(period=period)

    first = timezone.localtime(period.start).date()
    assert weeks[0].week == first - dt.timedelta(days=first.weekday())
    assert all(b.week - a.week == dt.timedelta(days=7) for a, b in itertools.pairwise(weeks))
    assert weeks[-1].week <= timezone.localtime(now).date() < weeks[-1].week + 7 * DAY
    assert sum(w.issued for w in weeks) == flows.issued == 540
    assert sum(w.redeemed for w in weeks) == flows.redeemed == 250


def test_the_page_feeds_the_chart_and_the_table_beneath_it(program):
    import json
    import re

    client = client_for(staff_user("Marketing", "marketing"))
    rollups_rebuild()

    page = client.get(URL).content.decode()

    data = json.loads(
        re.search(
            r'<script id="points-chart-data" type="application/json">(.*?)</script>', page
        ).group(1)
    )
    assert [s["label"] for s in data["series"]] == [
        "Points issued",
        "Points redeemed",
        "Points expired",
    ]
    assert sum(data["series"][0]["data"]) == 540
    assert sum(data["series"][1]["data"]) == 250
    assert len(data["labels"]) == len(data["series"][1]["data"])
    assert '<canvas id="points-chart"' in page
    assert "backoffice/vendor/chartjs/chart.umd.min.js" in page
    assert 'id="points-chart-table"' in page
