"""`GET /api/v1/ways-to-earn` and `GET /api/v1/members/{id}/referrals`."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from http import HTTPStatus

import pytest

from campaigns.services.actions import activity_record
from loyalty.demo import demo_tiers_ensure
from loyalty.services.jobs import daily_jobs_run
from tests.campaigns.factories import make_campaign
from tests.campaigns.test_referrals import enrol
from tests.loyalty.conftest import T0

URL = "/api/v1/ways-to-earn"


@pytest.fixture
def live(db, system_actor):
    ladder = {t.code: t for t in demo_tiers_ensure(actor=system_actor)}
    make_campaign("double-weekend", "multiplier", multiplier=Decimal("2.00"), weekdays=[6, 7])
    make_campaign("review", "action", action="review", points=50, per_member_limit=2)
    make_campaign("follow", "action", action="social_follow", points=40, budget_points=40)
    make_campaign("welcome", "action", action="signup", points=100)
    make_campaign("birthday", "action", action="birthday", points=200)
    make_campaign(
        "gold-only",
        "action",
        action="custom",
        action_code="quiz",
        points=10,
        tiers=[ladder["gold"]],
    )
    make_campaign("refer", "referral", referee_points=250, referrer_points=500)
    make_campaign(
        "over", "action", action="review", points=5, ends_at=dt.datetime(2025, 6, 1, tzinfo=dt.UTC)
    )
    return ladder


def _rows(body):
    return [
        (
            w["campaign"],
            w["kind"],
            w["action"],
            w["automatic"],
            w["points"],
            w["awards_left"],
            w["available"],
        )
        for w in body["results"]
    ]


def test_without_a_member_every_live_campaign(api_client, live):
    response = api_client.get(URL)

    assert response.status_code == HTTPStatus.OK
    assert _rows(response.json()) == [
        ("double-weekend", "multiplier", None, False, None, None, True),
        ("birthday", "action", "birthday", True, 200, None, True),
        ("follow", "action", "social_follow", False, 40, None, True),
        ("gold-only", "action", "quiz", False, 10, None, True),
        ("review", "action", "review", False, 50, None, True),
        ("welcome", "action", "signup", True, 100, None, True),
        ("refer", "referral", None, False, 500, None, True),
    ]
    weekend = response.json()["results"][0]
    assert (weekend["multiplier"], weekend["weekdays"], weekend["categories"]) == (
        "2.00",
        [6, 7],
        [],
    )
    refer = response.json()["results"][-1]
    assert (refer["referee_points"], refer["multiplier"]) == (250, None)


def test_for_a_member_targeted_campaigns_and_limits_left(api_client, live, member, system_actor):
    activity_record(member=member, type="review", reference="R-1", actor=system_actor)
    activity_record(member=member, type="social_follow", reference="F-1", actor=system_actor)

    response = api_client.get(URL, {"member": "C-1001"})

    # No sign-up (passed), no gold-only (the member is in the entry tier); the review has one
    # award left; the follow campaign's whole budget went to this member.
    assert _rows(response.json()) == [
        ("double-weekend", "multiplier", None, False, None, None, True),
        ("birthday", "action", "birthday", True, 200, None, True),
        ("follow", "action", "social_follow", False, 40, None, False),
        ("review", "action", "review", False, 50, 1, True),
        ("refer", "referral", None, False, 500, None, True),
    ]


def test_ways_to_earn_errors(api_client, live, member):
    unknown = api_client.get(URL, {"member": "NOPE"})
    extra = api_client.get(URL, {"page_size": "5"})

    assert (unknown.status_code, unknown.json()["code"]) == (
        HTTPStatus.NOT_FOUND,
        "member_not_found",
    )
    assert (extra.status_code, extra.json()["errors"][0]["field"]) == (
        HTTPStatus.BAD_REQUEST,
        "page_size",
    )


def test_referral_statistics(api_client, member, record_order):
    make_campaign("refer", "referral", referee_points=250, referrer_points=500)
    friends = [enrol(n, member) for n in (1, 2, 3)]
    record_order(friends[0], "O-1", "40.00", placed_at=T0)
    for day in (14, 15):
        daily_jobs_run(as_of=(T0 + dt.timedelta(days=day)).date())

    response = api_client.get("/api/v1/members/C-1001/referrals")
    friend = api_client.get("/api/v1/members/F-1/referrals")

    assert response.status_code == HTTPStatus.OK
    assert response.json() == {
        "referral_code": member.referral_code,
        "joined": 3,
        "pending": 2,
        "rewarded": 1,
        "rejected": 0,
        "points_earned": 500,
    }
    # The friend's own welcome bonus is not something they earned by referring.
    assert (friend.json()["joined"], friend.json()["points_earned"]) == (0, 0)
