"""The dashboard's effect sections, exact on small hand-computed programs (both engines):
redemption rate, coupon usage rate, the referral funnel, NPS and CSAT by tier and paid plan.

Satisfaction (T = today; tiers Bronze 0 / Silver 150):

    M1 Bronze   NPS 10 at T−40   NPS 6 at T−2   CSAT 4 at T−2
    M2 Silver   (overridden today)  NPS 9 and NPS 8 and CSAT 5, now
    M3 Bronze   NPS 3 at T−2

    last 30 days: Bronze 0 promoters, 2 detractors of 2 → NPS −100.0, CSAT 4.00
                  Silver 1 promoter, 1 passive of 2   → NPS +50.0,  CSAT 5.00
                  all    1 − 2 of 4                    → NPS −25.0,  CSAT 4.50
    last 90 days: Bronze 1 − 2 of 3 → −33.3; all 2 − 2 of 5 → 0.0
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone

from analytics.selectors.period import last_days
from analytics.selectors.rates import coupon_usage, redemption_rates, referral_funnel
from analytics.selectors.satisfaction import satisfaction
from analytics.selectors.trends import period_figures
from analytics.services.refresh import rollups_rebuild, rollups_refresh
from feedback.services import feedback_record
from loyalty.models import Tier
from loyalty.services.jobs import daily_jobs_run
from loyalty.services.points import points_spend
from loyalty.services.tier_config import tier_save
from loyalty.services.tier_overrides import tier_override
from tests.analytics.test_rollups import noon
from tests.campaigns.factories import make_campaign
from tests.campaigns.test_referrals import enrol
from tests.loyalty.staff import client_for, staff_user

pytestmark = pytest.mark.django_db

DAY = dt.timedelta(days=1)


def ladder(actor) -> dict[str, Tier]:
    return {
        code: tier_save(
            actor=actor,
            code=code,
            name=code.title(),
            rank=rank,
            threshold=Decimal(threshold),
            multiplier=Decimal(1),
        )
        for code, rank, threshold in (("bronze", 0, "0"), ("silver", 1, "150"))
    }


@pytest.fixture
def answers(make_member, system_actor):
    tiers = ladder(system_actor)
    m1, m2, m3 = make_member(), make_member(), make_member()
    tier_override(
        member=m2,
        tier=tiers["silver"],
        until=timezone.localdate() + 30 * DAY,
        reason="VIP",
        actor=system_actor,
    )

    def answer(member, scale, score, when=None):
        feedback_record(member=member, scale=scale, score=score, actor=system_actor, now=when)

    answer(m1, "nps", 10, noon(40))
    answer(m1, "nps", 6, noon(2))
    answer(m1, "csat", 4, noon(2))
    answer(m2, "nps", 9)
    answer(m2, "nps", 8)
    answer(m2, "csat", 5)
    answer(m3, "nps", 3, noon(2))
    return tiers


def _totals(table) -> list[tuple]:
    return [(a.responses, a.nps, a.csat) for a in table["total"]]


def test_nps_and_csat_by_tier_and_plan(answers):
    rollups_rebuild()
    tiers = list(Tier.objects.order_by("rank"))

    month = satisfaction(last_days(30), tiers=tiers, plans={})
    quarter = satisfaction(last_days(90), tiers=tiers, plans={})

    assert month["by_tier"]["columns"] == ["Bronze", "Silver", "All members"]
    assert _totals(month["by_tier"]) == [
        (2, Decimal("-100.0"), Decimal("4.00")),
        (2, Decimal("50.0"), Decimal("5.00")),
        (4, Decimal("-25.0"), Decimal("4.50")),
    ]
    assert _totals(month["by_plan"]) == [
        (4, Decimal("-25.0"), Decimal("4.50")),  # everybody is free
        (4, Decimal("-25.0"), Decimal("4.50")),
    ]
    assert _totals(quarter["by_tier"])[0] == (3, Decimal("-33.3"), Decimal("4.00"))
    assert _totals(quarter["by_tier"])[2] == (5, Decimal("0.0"), Decimal("4.50"))
    by_month = {row["month"]: row["cells"][2].responses for row in quarter["by_tier"]["rows"]}
    assert sum(by_month.values()) == 5
    assert by_month[timezone.localdate().replace(day=1)] >= 2  # today's answers


def test_feedback_given_after_a_refresh_is_refreshed_in(answers, make_member, system_actor):
    rollups_rebuild()
    feedback_record(member=make_member(), scale="nps", score=10, actor=system_actor)

    rollups_refresh()

    found = satisfaction(last_days(30), tiers=list(Tier.objects.order_by("rank")), plans={})
    assert _totals(found["by_tier"])[2] == (5, Decimal("0.0"), Decimal("4.50"))  # 2 − 2 of 5


def test_redemption_rate_in_the_period_and_to_date(make_member, record_order, system_actor):
    m1, m3 = make_member(), make_member()
    record_order(m1, "O-1", "100.00", placed_at=noon(40), now=noon(40))  # 100 points
    record_order(m3, "O-2", "50.00", placed_at=noon(5), now=noon(5))  # 50 points, pending
    daily_jobs_run()  # O-1's points are spendable
    with transaction.atomic():
        points_spend(member=m1, points=40, actor=system_actor, idempotency_key="s1")
    rollups_rebuild()
    period = last_days(30)

    rates = redemption_rates(period, period_figures(period))

    assert rates["period"] == {"issued": 50, "redeemed": 40, "rate": Decimal("80.0")}
    assert rates["to_date"] == {"issued": 150, "redeemed": 40, "rate": Decimal("26.7")}


def test_coupon_usage_by_reward(member, system_actor):
    from campaigns.selectors import reward_report
    from loyalty.services.points import points_adjust_post
    from rewards.services import redemption_cancel, redemption_create, redemption_use, reward_create

    points_adjust_post(
        member=member, points=2000, reason="t", actor=system_actor, idempotency_key="k"
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

    usage = coupon_usage(reward_report(period=last_days(7).report_period()))

    assert [(u.code, u.issued, u.used, u.rate) for u in usage] == [
        ("FIVE", 1, 1, Decimal("100.0")),  # the cancelled coupon counts in neither
        ("TEN", 1, 0, Decimal("0.0")),
        ("", 2, 1, Decimal("50.0")),
    ]
    assert coupon_usage([]) == []
    assert coupon_usage(None) is None


@pytest.fixture
def referrals(member, record_order, record_refund):
    """Member refers F1 (first order T−20, cleared: rewarded), F2 (first order T−3: pending),
    F3 (no order), F4 (first order T−20, refunded in full: rejected)."""
    make_campaign("refer", "referral", referee_points=0, referrer_points=500)
    friends = [enrol(n, member) for n in range(1, 5)]
    record_order(friends[0], "F1-1", "40.00", placed_at=noon(20), now=noon(20))
    record_order(friends[1], "F2-1", "40.00", placed_at=noon(3), now=noon(3))
    record_order(friends[3], "F4-1", "40.00", placed_at=noon(20), now=noon(20))
    record_refund("F4-1", "R-4", "40.00", now=noon(18))
    daily_jobs_run()
    return member


def test_referral_funnel(referrals):
    funnel = referral_funnel(last_days(30))

    assert funnel["steps"] == [
        ("enrolled", 4, None),
        ("first_orders", 3, Decimal("75.0")),
        ("rewarded", 1, Decimal("33.3")),
    ]
    assert (funnel["rejected"], funnel["referrers"], funnel["referrers_paid"]) == (1, 1, 1)
    assert funnel["shared"] is None  # the storefront does not report shared codes


def test_the_page_shows_rates_funnel_and_satisfaction(answers, referrals):
    rollups_rebuild()

    page = client_for(staff_user("Marketing", "marketing")).get("/admin/dashboard/")

    content = page.content.decode()
    assert '<td class="num" id="referral-first_orders">3</td>' in content
    assert '<td class="num" id="referral-shared">—</td>' in content
    assert "Not reported: the storefront API has no event for a shared code." in content
    assert 'id="nps-by-tier-total-3">-25.0' in content
    assert 'id="nps-by-tier-total-2">+50.0' in content
    assert "NPS = % promoters (9–10) − % detractors (0–6)" in content
    assert 'id="redemption-rate-period">0.0%</td>' in content  # nothing redeemed
