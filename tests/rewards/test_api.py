"""The storefront's rewards endpoints: catalogue, redeem, use, cancel."""

from __future__ import annotations

import datetime as dt
from http import HTTPStatus

import pytest
from django.utils import timezone

from loyalty.services.tiers import tier_override
from members.services import member_erase, member_set_status
from rewards.models import Redemption, Reward
from rewards.services import redemption_create

REWARDS_URL = "/api/v1/rewards"
BAD = HTTPStatus.BAD_REQUEST


def _redeem_url(external_id="C-1001") -> str:
    return f"/api/v1/members/{external_id}/redemptions"


def _post(client, url, body, key="k-1"):
    return client.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY=key)


@pytest.fixture
def five_off(make_reward):
    return make_reward(code="FIVE_OFF", name="£5 off", stock=3, coupon_valid_days=90)


# --- catalogue ---------------------------------------------------------------------------------


def test_catalogue_lists_current_and_upcoming_rewards(api_client, make_reward):
    now = timezone.now()
    make_reward(code="A_CURRENT", points_cost=100)
    make_reward(code="B_UPCOMING", points_cost=200, active_from=now + dt.timedelta(days=3))
    make_reward(code="C_OVER", points_cost=300, active_to=now - dt.timedelta(days=1))
    make_reward(code="D_OFF", points_cost=400, is_active=False)

    response = api_client.get(REWARDS_URL)

    assert response.status_code == HTTPStatus.OK
    body = response.json()
    assert body["count"] == 2
    assert [r["code"] for r in body["results"]] == ["A_CURRENT", "B_UPCOMING"]
    first = body["results"][0]
    assert first == {
        "code": "A_CURRENT",
        "name": "£5 off",
        "description": "",
        "kind": "fixed_discount",
        "points_cost": 100,
        "value": "5.00",
        "currency": "GBP",
        "sku": "",
        "stock": None,
        "per_member_limit": None,
        "min_tier": None,
        "active_from": None,
        "active_to": None,
        "coupon_valid_days": 90,
        "min_points": None,
        "min_share": None,
        "max_share": None,
        "point_value": None,
        "eligible": None,
        "affordable": None,
        "reason": None,
    }


def test_catalogue_for_a_member_says_why_not(
    api_client, member, give_points, make_reward, system_actor, tiers
):
    # given 600 points and one reward per reason
    now = timezone.now()
    give_points(member, 600)
    make_reward(code="OK", points_cost=500)
    make_reward(code="PRICEY", points_cost=5000)
    make_reward(code="LATER", points_cost=100, active_from=now + dt.timedelta(days=1))
    make_reward(code="GOLD", points_cost=100, min_tier=tiers["gold"])
    make_reward(code="GONE", points_cost=100, stock=0)
    make_reward(code="ONCE", points_cost=100, per_member_limit=1)
    redemption_create(member=member, reward_code="ONCE", actor=system_actor)

    response = api_client.get(REWARDS_URL, {"member": "C-1001"})

    assert response.status_code == HTTPStatus.OK
    got = {
        r["code"]: (r["eligible"], r["affordable"], r["reason"]) for r in response.json()["results"]
    }
    assert got == {
        "OK": (True, True, None),
        "PRICEY": (True, False, None),
        "LATER": (False, True, "not_active"),
        "GOLD": (False, True, "tier_too_low"),
        "GONE": (False, True, "out_of_stock"),
        "ONCE": (False, True, "limit_reached"),
    }


def test_catalogue_tier_reason_clears_with_the_tier(
    api_client, member, give_points, make_reward, system_actor, tiers
):
    make_reward(code="GOLD", points_cost=100, min_tier=tiers["gold"])
    tier_override(
        member=member,
        tier=tiers["gold"],
        until=timezone.localdate() + dt.timedelta(days=1),
        reason="VIP",
        actor=system_actor,
    )

    result = api_client.get(REWARDS_URL, {"member": "C-1001"}).json()["results"][0]

    assert (result["min_tier"], result["eligible"], result["affordable"], result["reason"]) == (
        "gold",
        True,
        False,
        None,
    )


def test_catalogue_points_discount_shows_its_terms(api_client, member, give_points, make_reward):
    give_points(member, 99)
    make_reward(code="POINTS_OFF", kind="points_discount", min_points=100)

    result = api_client.get(REWARDS_URL, {"member": "C-1001"}).json()["results"][0]

    assert {k: result[k] for k in ("points_cost", "value", "min_points", "min_share")} == {
        "points_cost": 0,
        "value": None,
        "min_points": 100,
        "min_share": "0.0000",
    }
    assert (result["max_share"], result["point_value"], result["affordable"]) == (
        "0.5000",
        "0.0100",
        False,
    )


def test_catalogue_member_errors(api_client, make_member, system_actor):
    gone = make_member(external_id="C-GONE")
    member_erase(member=gone, actor=system_actor)

    assert api_client.get(REWARDS_URL, {"member": "C-NOBODY"}).json()["code"] == "member_not_found"
    response = api_client.get(REWARDS_URL, {"member": "C-GONE"})
    assert (response.status_code, response.json()["code"]) == (HTTPStatus.GONE, "member_erased")
    response = api_client.get(REWARDS_URL, {"colour": "red"})
    assert (response.status_code, response.json()["errors"][0]["field"]) == (
        HTTPStatus.BAD_REQUEST,
        "colour",
    )


def test_catalogue_needs_an_api_key(anon_client):
    response = anon_client.get(REWARDS_URL)

    assert (response.status_code, response.json()["code"]) == (
        HTTPStatus.UNAUTHORIZED,
        "unauthenticated",
    )


def test_catalogue_query_count_does_not_grow_with_rewards(
    api_client, member, give_points, make_reward, django_assert_max_num_queries
):
    give_points(member, 1000)
    for i in range(30):
        make_reward(code=f"R{i:02d}", points_cost=100 + i, stock=5, per_member_limit=2)

    with django_assert_max_num_queries(12):
        response = api_client.get(REWARDS_URL, {"member": "C-1001", "page_size": 50})

    assert response.json()["count"] == 30


# --- redeem ------------------------------------------------------------------------------------


def test_redeem_returns_the_coupon(api_client, member, give_points, five_off):
    give_points(member, 1200)

    response = _post(api_client, _redeem_url(), {"reward": "FIVE_OFF"})

    assert response.status_code == HTTPStatus.CREATED
    body = response.json()
    redemption = Redemption.objects.get()
    assert body == {
        "id": str(redemption.pk),
        "reward": "FIVE_OFF",
        "kind": "fixed_discount",
        "member": "C-1001",
        "points_spent": 500,
        "coupon_code": redemption.coupon_code,
        "value": "5.00",
        "currency": "GBP",
        "sku": "",
        "status": "issued",
        "created_at": body["created_at"],
        "expires_at": body["expires_at"],
        "used_at": None,
        "used_order_id": None,
        "cancelled_at": None,
        "balance": {"available": 700},
    }
    assert dt.datetime.fromisoformat(body["expires_at"]) == redemption.expires_at


def test_redeem_replayed_with_the_same_key_redeems_once(api_client, member, give_points, five_off):
    give_points(member, 1200)
    first = _post(api_client, _redeem_url(), {"reward": "FIVE_OFF"}, key="same")

    again = _post(api_client, _redeem_url(), {"reward": "FIVE_OFF"}, key="same")

    assert again.status_code == HTTPStatus.CREATED
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert Redemption.objects.count() == 1
    assert Reward.objects.get(code="FIVE_OFF").stock == 2


def test_redeem_needs_an_idempotency_key(api_client, member, give_points, five_off):
    give_points(member, 1200)

    response = api_client.post(_redeem_url(), {"reward": "FIVE_OFF"}, format="json")

    assert (response.status_code, response.json()["errors"][0]["field"]) == (
        HTTPStatus.BAD_REQUEST,
        "Idempotency-Key",
    )
    assert Redemption.objects.count() == 0


def test_redeem_points_discount(api_client, member, give_points, make_reward):
    give_points(member, 3000)
    make_reward(code="POINTS_OFF", kind="points_discount")

    response = _post(
        api_client,
        _redeem_url(),
        {"reward": "POINTS_OFF", "points": 1500, "order_total": "40.00"},
    )

    assert response.status_code == HTTPStatus.CREATED
    assert (response.json()["points_spent"], response.json()["value"]) == (1500, "15.00")


def test_redeem_points_discount_out_of_range(api_client, member, give_points, make_reward):
    give_points(member, 3000)
    make_reward(code="POINTS_OFF", kind="points_discount")

    response = _post(
        api_client,
        _redeem_url(),
        {"reward": "POINTS_OFF", "points": 2500, "order_total": "40.00"},
    )

    body = response.json()
    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    assert (body["code"], body["errors"][0]["field"], body["min_points"], body["max_points"]) == (
        "points_out_of_range",
        "points",
        100,
        2000,
    )


@pytest.mark.parametrize(
    ("setup", "body", "status", "code"),
    [
        ("poor", {"reward": "FIVE_OFF"}, HTTPStatus.UNPROCESSABLE_ENTITY, "insufficient_points"),
        ("sold_out", {"reward": "SOLD_OUT"}, HTTPStatus.CONFLICT, "out_of_stock"),
        ("tiers", {"reward": "GOLD_ONLY"}, HTTPStatus.UNPROCESSABLE_ENTITY, "not_eligible"),
        ("limit", {"reward": "ONCE"}, HTTPStatus.UNPROCESSABLE_ENTITY, "limit_reached"),
        ("off", {"reward": "SWITCHED_OFF"}, HTTPStatus.UNPROCESSABLE_ENTITY, "reward_inactive"),
        ("rich", {"reward": "NO_SUCH"}, HTTPStatus.NOT_FOUND, "reward_not_found"),
        ("rich", {"reward": "FIVE_OFF", "colour": "red"}, BAD, "validation_error"),
        ("rich", {"reward": "FIVE_OFF", "points": "5"}, BAD, "validation_error"),
        ("rich", {}, BAD, "validation_error"),
    ],
)
def test_redeem_errors(
    request, api_client, member, give_points, make_reward, system_actor, setup, body, status, code
):
    make_reward(code="FIVE_OFF")
    if setup != "poor":
        give_points(member, 5000)
    if setup == "sold_out":
        make_reward(code="SOLD_OUT", stock=0)
    if setup == "tiers":
        make_reward(code="GOLD_ONLY", min_tier=request.getfixturevalue("tiers")["gold"])
    if setup == "limit":
        make_reward(code="ONCE", per_member_limit=1)
        redemption_create(member=member, reward_code="ONCE", actor=system_actor)
    if setup == "off":
        make_reward(code="SWITCHED_OFF", is_active=False)
    before = Redemption.objects.count()

    response = _post(api_client, _redeem_url(), body)

    assert (response.status_code, response.json()["code"]) == (status, code)
    assert response["Content-Type"] == "application/problem+json"
    assert Redemption.objects.count() == before


def test_redeem_member_errors(api_client, make_member, five_off, system_actor):
    gone = make_member(external_id="C-GONE")
    member_erase(member=gone, actor=system_actor)

    missing = _post(api_client, _redeem_url("C-NOBODY"), {"reward": "FIVE_OFF"}, key="a")
    erased = _post(api_client, _redeem_url("C-GONE"), {"reward": "FIVE_OFF"}, key="b")

    assert (missing.status_code, missing.json()["code"]) == (
        HTTPStatus.NOT_FOUND,
        "member_not_found",
    )
    assert (erased.status_code, erased.json()["code"]) == (HTTPStatus.GONE, "member_erased")


def test_redeem_suspended_member_not_eligible(
    api_client, member, give_points, five_off, system_actor
):
    give_points(member, 1000)
    member_set_status(member=member, status="suspended", actor=system_actor, reason="check")

    response = _post(api_client, _redeem_url(), {"reward": "FIVE_OFF"})

    assert (response.status_code, response.json()["code"], response.json()["reason"]) == (
        HTTPStatus.UNPROCESSABLE_ENTITY,
        "not_eligible",
        "member_suspended",
    )


# --- use and cancel ------------------------------------------------------------------------------


@pytest.fixture
def redemption_id(api_client, member, give_points, five_off):
    give_points(member, 1000)
    return _post(api_client, _redeem_url(), {"reward": "FIVE_OFF"}, key="redeem").json()["id"]


def test_use_then_use_again(api_client, redemption_id):
    url = f"/api/v1/redemptions/{redemption_id}/use"

    used = _post(api_client, url, {"order_id": "O-9"}, key="use-1")
    again = _post(api_client, url, {"order_id": "O-10"}, key="use-2")

    assert used.status_code == HTTPStatus.OK
    assert (used.json()["status"], used.json()["used_order_id"]) == ("used", "O-9")
    assert used.json()["balance"] == {"available": 500}
    assert (again.status_code, again.json()["code"]) == (HTTPStatus.CONFLICT, "redemption_used")


def test_cancel_then_cancel_again_and_use(api_client, redemption_id):
    url = f"/api/v1/redemptions/{redemption_id}/cancel"

    cancelled = _post(api_client, url, {"reason": "changed mind"}, key="c-1")
    again = _post(api_client, url, {}, key="c-2")
    use = _post(api_client, f"/api/v1/redemptions/{redemption_id}/use", {"order_id": "O"}, "u")

    assert cancelled.status_code == HTTPStatus.OK
    assert cancelled.json()["status"] == "cancelled"
    assert cancelled.json()["balance"] == {"available": 1000}
    assert Reward.objects.get(code="FIVE_OFF").stock == 3
    assert (again.status_code, again.json()["code"]) == (
        HTTPStatus.CONFLICT,
        "redemption_cancelled",
    )
    assert (use.status_code, use.json()["code"]) == (HTTPStatus.CONFLICT, "redemption_cancelled")


def test_use_expired(api_client, member, give_points, make_reward, system_actor):
    give_points(member, 1000)
    make_reward(code="SHORT", coupon_valid_days=1)
    redemption = redemption_create(
        member=member,
        reward_code="SHORT",
        actor=system_actor,
        now=timezone.now() - dt.timedelta(days=2),
    ).redemption

    response = _post(api_client, f"/api/v1/redemptions/{redemption.pk}/use", {"order_id": "O"})

    assert (response.status_code, response.json()["code"]) == (
        HTTPStatus.CONFLICT,
        "redemption_expired",
    )


@pytest.mark.parametrize("redemption_id", ["not-a-uuid", "7b0e3f4e-2b1c-4d7a-9c59-0c8a4f1f3a11"])
def test_use_unknown_redemption(api_client, db, redemption_id):
    response = _post(api_client, f"/api/v1/redemptions/{redemption_id}/use", {"order_id": "O"})

    assert (response.status_code, response.json()["code"]) == (
        HTTPStatus.NOT_FOUND,
        "redemption_not_found",
    )


@pytest.mark.parametrize(
    ("action", "body"),
    [("use", {}), ("use", {"order_id": "O", "extra": 1}), ("cancel", {"why": "x"})],
)
def test_use_and_cancel_refuse_bad_bodies(api_client, redemption_id, action, body):
    response = _post(api_client, f"/api/v1/redemptions/{redemption_id}/{action}", body)

    assert (response.status_code, response.json()["code"]) == (
        HTTPStatus.BAD_REQUEST,
        "validation_error",
    )
    assert Redemption.objects.get(pk=redemption_id).status == "issued"


def test_money_in_the_body_must_be_a_string(api_client, member, give_points, make_reward):
    give_points(member, 3000)
    make_reward(code="POINTS_OFF", kind="points_discount")

    response = _post(
        api_client, _redeem_url(), {"reward": "POINTS_OFF", "points": 500, "order_total": 40.0}
    )

    assert (response.status_code, response.json()["errors"][0]["field"]) == (
        HTTPStatus.BAD_REQUEST,
        "order_total",
    )
    assert Redemption.objects.count() == 0
