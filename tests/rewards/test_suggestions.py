"""Personal suggestions: the order and the reasons, exactly; the API's answer."""

from __future__ import annotations

import datetime as dt
from http import HTTPStatus

import pytest
from django.utils import timezone

from loyalty.services.program import program_settings_update
from rewards.services.redemptions import redemption_create
from rewards.suggestions import member_suggestions
from segments.models import Segment
from segments.services.segments import segment_save
from segments.services.stats import stats_refresh
from tests.loyalty.conftest import record_order  # noqa: F401  (the order fixture)

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop(make_member, make_reward, give_points, tiers, record_order, system_actor):  # noqa: F811
    now = timezone.now()
    ada, bob = make_member(external_id="ADA"), make_member(external_id="BOB")
    items = [{"sku": "MUG", "category": "Kitchen", "quantity": 1, "unit_price": "60.00"}]
    for member, order_id in ((ada, "O-A"), (bob, "O-B")):
        record_order(member, order_id, "60.00", placed_at=now - dt.timedelta(days=1), items=items)
    stats_refresh(now=now)
    make_reward("MUG_OFF", points_cost=300, category="Kitchen")
    make_reward("LAMP_OFF", points_cost=400)
    make_reward("BIG", points_cost=460)
    make_reward("GOLD_ONLY", points_cost=100, min_tier=tiers["gold"])
    nobody = segment_save(
        segment=Segment(code="nobody", name="Nobody", conditions={"all": [
            {"field": "club", "op": "in", "value": ["none"]}]}),
        actor=system_actor,
    )  # fmt: skip
    make_reward("SEGMENT_ONLY", points_cost=10, segment=nobody)
    give_points(bob, 400)
    redemption_create(member=bob, reward_code="LAMP_OFF", actor=system_actor)
    return ada, now


def _flat(suggestions):
    return [(s.reward.code, s.score, [r["code"] for r in s.reasons]) for s in suggestions]


def test_order_and_reasons(shop, give_points):
    ada, now = shop
    give_points(ada, 400)
    suggestions = member_suggestions(member=ada, now=now)
    assert _flat(suggestions) == [
        ("MUG_OFF", 1200, ["redeem_now", "category"]),
        ("LAMP_OFF", 1001, ["redeem_now", "popular"]),
        ("BIG", 434, ["points_to_go"]),
        ("GOLD_ONLY", 100, ["tier"]),
    ]
    texts = {s.reward.code: [r["text"] for r in s.reasons] for s in suggestions}
    assert texts["MUG_OFF"] == [
        "You can redeem this now.",
        "Members who buy Kitchen choose this.",
    ]
    assert texts["BIG"] == ["60 points to go."]
    assert texts["GOLD_ONLY"] == ["Only for Gold: you are 440.00 away."]
    assert texts["LAMP_OFF"][1] == "Popular with members like you."
    assert _flat(member_suggestions(member=ada, now=now, limit=2))[1][0] == "LAMP_OFF"


def test_points_expiring_soon_come_first(shop, give_points, system_actor):
    ada, now = shop
    program_settings_update(actor=system_actor, points_lifetime_days=20)
    give_points(ada, 320)
    suggestions = member_suggestions(member=ada, now=now)
    first = suggestions[0]
    assert (first.reward.code, first.score) == ("MUG_OFF", 1500)
    expires = timezone.localdate(now - dt.timedelta(seconds=1) + dt.timedelta(days=20))
    assert first.reasons[1] == {
        "code": "expiring",
        "text": f"320 of your points expire by {expires.isoformat()}: spend them here.",
    }
    assert [(s.reward.code, s.score) for s in suggestions[1:3]] == [
        ("LAMP_OFF", 401),  # 500 × 320 ÷ 400, + 1 redemption in Ada's RFM group
        ("BIG", 347),
    ]


def test_the_api(shop, api_client, give_points):
    ada, _now = shop
    give_points(ada, 400)
    response = api_client.get("/api/v1/members/ADA/suggestions?limit=1")
    assert response.status_code == HTTPStatus.OK
    assert response.json() == {
        "results": [
            {
                "reward": "MUG_OFF",
                "name": "£5 off",
                "points_cost": 300,
                "score": 1200,
                "reasons": [
                    {"code": "redeem_now", "text": "You can redeem this now."},
                    {"code": "category", "text": "Members who buy Kitchen choose this."},
                ],
            }
        ]
    }
    bad = api_client.get("/api/v1/members/ADA/suggestions?limit=0")
    assert (bad.status_code, bad.json()["code"]) == (HTTPStatus.BAD_REQUEST, "validation_error")
    missing = api_client.get("/api/v1/members/NOPE/suggestions")
    assert missing.status_code == HTTPStatus.NOT_FOUND
