"""Contract: `GET /api/v1/rewards?member=`, `POST /api/v1/members/{external_id}/redemptions`,
`POST /api/v1/redemptions/{id}/use` and `/cancel`, as api.md writes them."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from http import HTTPStatus

import pytest
from django.utils import timezone

from loyalty.models import Account
from members.services import member_erase
from rewards.models import Redemption
from rewards.services import redemption_create
from tests.contract.conftest import (
    assert_instant,
    assert_int,
    assert_money,
    assert_problem,
    post_idem,
)

REWARDS = "/api/v1/rewards"
REDEEM = "/api/v1/members/C-1001/redemptions"
DAY = dt.timedelta(days=1)


def _use(redemption_id) -> str:
    return f"/api/v1/redemptions/{redemption_id}/use"


def _cancel(redemption_id) -> str:
    return f"/api/v1/redemptions/{redemption_id}/cancel"


def _available(member) -> int:
    return Account.objects.get(member=member).available


@pytest.fixture
def five_off(make_reward):
    return make_reward("FIVE_OFF", stock=3, coupon_valid_days=30)


@pytest.fixture
def issued(member, give_points, five_off, system_actor):
    """An issued £5 coupon; the member keeps 700 points."""
    give_points(member, 1200)
    return redemption_create(member=member, reward_code="FIVE_OFF", actor=system_actor).redemption


# --- the catalogue -----------------------------------------------------------------------------


def test_rewards_list_is_paginated_with_count_next_previous_results(api_client, make_reward):
    for code in ("A", "B", "C"):
        make_reward(code)

    first = api_client.get(REWARDS, {"page_size": 2})
    second = api_client.get(REWARDS, {"page_size": 2, "page": 2})

    assert first.status_code == HTTPStatus.OK
    body = first.json()
    assert set(body) == {"count", "next", "previous", "results"}
    assert (body["count"], body["previous"], len(body["results"])) == (3, None, 2)
    assert "page=2" in body["next"]
    body = second.json()
    assert (body["count"], body["next"], len(body["results"])) == (3, None, 1)
    assert body["previous"] is not None


def test_rewards_page_size_is_at_most_200(api_client, make_reward):
    for i in range(201):
        make_reward(f"R{i:03d}")

    response = api_client.get(REWARDS, {"page_size": 500})

    assert response.status_code == HTTPStatus.OK
    body = response.json()
    assert (body["count"], len(body["results"])) == (201, 200)
    assert "page=2" in body["next"]
    assert_problem(
        api_client.get(REWARDS, {"page_size": 0}),
        HTTPStatus.BAD_REQUEST,
        "validation_error",
        field="page_size",
    )


def test_rewards_list_lists_only_active_rewards(api_client, make_reward):
    make_reward("ON")
    make_reward("OFF", is_active=False)
    make_reward("OVER", active_to=timezone.now() - DAY)

    codes = [r["code"] for r in api_client.get(REWARDS).json()["results"]]

    assert codes == ["ON"]


def test_rewards_with_member_carry_eligible_affordable_and_each_reason(
    api_client, member, give_points, make_reward, ladder, system_actor
):
    give_points(member, 600)
    make_reward("OK", points_cost=500)
    make_reward("PRICEY", points_cost=5000)
    make_reward("GOLD_ONLY", points_cost=100, min_tier=ladder["gold"])
    make_reward("SOLD_OUT", points_cost=100, stock=0)
    make_reward("ONCE", points_cost=100, per_member_limit=1)
    make_reward("LATER", points_cost=100, active_from=timezone.now() + DAY)
    redemption_create(member=member, reward_code="ONCE", actor=system_actor)

    response = api_client.get(REWARDS, {"member": "C-1001"})

    assert response.status_code == HTTPStatus.OK
    results = {r["code"]: r for r in response.json()["results"]}
    for reward in results.values():
        assert isinstance(reward["eligible"], bool)
        assert isinstance(reward["affordable"], bool)
    got = {code: (r["eligible"], r["affordable"], r["reason"]) for code, r in results.items()}
    assert got == {
        "OK": (True, True, None),
        "PRICEY": (True, False, None),
        "GOLD_ONLY": (False, True, "tier_too_low"),
        "SOLD_OUT": (False, True, "out_of_stock"),
        "ONCE": (False, True, "limit_reached"),
        "LATER": (False, True, "not_active"),
    }


def test_rewards_list_member_errors(api_client, make_member, system_actor):
    member_erase(member=make_member(external_id="C-GONE"), actor=system_actor)

    assert_problem(
        api_client.get(REWARDS, {"member": "C-NOBODY"}), HTTPStatus.NOT_FOUND, "member_not_found"
    )
    assert_problem(api_client.get(REWARDS, {"member": "C-GONE"}), HTTPStatus.GONE, "member_erased")


def test_rewards_money_is_a_string_with_two_decimals(api_client, make_reward):
    make_reward("FIVE", value=Decimal("5"))

    reward = api_client.get(REWARDS).json()["results"][0]

    assert reward["value"] == "5.00"


# --- redeem ------------------------------------------------------------------------------------


def test_redeem_answers_201_with_every_field_of_the_spec(api_client, member, give_points, five_off):
    give_points(member, 1200)

    response = post_idem(api_client, REDEEM, {"reward": "FIVE_OFF"})

    assert response.status_code == HTTPStatus.CREATED
    body = response.json()
    spec_fields = {
        "id",
        "reward",
        "points_spent",
        "coupon_code",
        "value",
        "currency",
        "status",
        "expires_at",
        "balance",
    }
    assert spec_fields <= set(body)
    redemption = Redemption.objects.get()
    assert body["id"] == str(redemption.pk)
    assert (body["reward"], body["points_spent"], body["value"], body["currency"]) == (
        "FIVE_OFF",
        500,
        "5.00",
        "GBP",
    )
    assert body["status"] == "issued"
    assert body["coupon_code"] == redemption.coupon_code
    assert isinstance(body["coupon_code"], str)
    assert_instant(body["expires_at"])
    assert body["balance"] == {"available": 700}
    assert_int(body["points_spent"])
    assert_money(body["value"])


def test_redeem_a_points_discount_with_points_and_order_total(
    api_client, member, give_points, make_reward
):
    give_points(member, 1000)
    make_reward("POINTS_OFF", kind="points_discount")

    response = post_idem(
        api_client, REDEEM, {"reward": "POINTS_OFF", "points": 500, "order_total": "40.00"}
    )

    assert response.status_code == HTTPStatus.CREATED
    body = response.json()
    assert (body["points_spent"], body["value"], body["balance"]) == (
        500,
        "5.00",
        {"available": 500},
    )


def test_redeem_refuses_money_as_a_json_number(api_client, member, give_points, make_reward):
    give_points(member, 1000)
    make_reward("POINTS_OFF", kind="points_discount")

    response = post_idem(
        api_client, REDEEM, {"reward": "POINTS_OFF", "points": 500, "order_total": 40.0}
    )

    assert_problem(response, HTTPStatus.BAD_REQUEST, "validation_error", field="order_total")
    assert Redemption.objects.count() == 0


@pytest.mark.parametrize("order_total", ["40.001", "-40.00", "4e1", " 40.00", "forty"])
def test_redeem_refuses_money_not_written_as_two_decimals(
    api_client, member, give_points, make_reward, order_total
):
    give_points(member, 1000)
    make_reward("POINTS_OFF", kind="points_discount")

    response = post_idem(
        api_client, REDEEM, {"reward": "POINTS_OFF", "points": 500, "order_total": order_total}
    )

    assert_problem(response, HTTPStatus.BAD_REQUEST, "validation_error", field="order_total")


@pytest.mark.parametrize("points", [10**30, 2**31, 0, -5, "500", 500.0, True])
def test_redeem_points_out_of_any_balance_or_not_integers_are_400(
    api_client, member, give_points, make_reward, points
):
    give_points(member, 1000)
    make_reward("POINTS_OFF", kind="points_discount")

    response = post_idem(
        api_client, REDEEM, {"reward": "POINTS_OFF", "points": points, "order_total": "40.00"}
    )

    assert_problem(response, HTTPStatus.BAD_REQUEST, "validation_error", field="points")
    assert Redemption.objects.count() == 0


def test_redeem_refuses_unknown_fields_naming_them(api_client, member, give_points, five_off):
    give_points(member, 1000)

    response = post_idem(api_client, REDEEM, {"reward": "FIVE_OFF", "quantity": 2})

    assert_problem(response, HTTPStatus.BAD_REQUEST, "validation_error", field="quantity")
    assert Redemption.objects.count() == 0


def test_redeem_without_enough_points_is_422_insufficient_points(
    api_client, member, give_points, five_off
):
    give_points(member, 499)

    response = post_idem(api_client, REDEEM, {"reward": "FIVE_OFF"})

    assert_problem(response, HTTPStatus.UNPROCESSABLE_ENTITY, "insufficient_points")
    assert _available(member) == 499


def test_redeem_out_of_stock_is_409(api_client, member, give_points, make_reward):
    give_points(member, 1000)
    make_reward("SOLD_OUT", stock=0)

    response = post_idem(api_client, REDEEM, {"reward": "SOLD_OUT"})

    assert_problem(response, HTTPStatus.CONFLICT, "out_of_stock")


def test_redeem_above_the_members_tier_is_422_not_eligible(
    api_client, member, give_points, make_reward, ladder
):
    give_points(member, 1000)
    make_reward("GOLD_ONLY", min_tier=ladder["gold"])

    response = post_idem(api_client, REDEEM, {"reward": "GOLD_ONLY"})

    assert_problem(response, HTTPStatus.UNPROCESSABLE_ENTITY, "not_eligible")


def test_redeem_past_the_per_member_limit_is_422_limit_reached(
    api_client, member, give_points, make_reward
):
    give_points(member, 2000)
    make_reward("ONCE", per_member_limit=1)

    first = post_idem(api_client, REDEEM, {"reward": "ONCE"})
    second = post_idem(api_client, REDEEM, {"reward": "ONCE"})

    assert first.status_code == HTTPStatus.CREATED
    assert_problem(second, HTTPStatus.UNPROCESSABLE_ENTITY, "limit_reached")


@pytest.mark.parametrize(
    "window",
    [
        {"is_active": False},
        {"active_from": "future"},
        {"active_to": "past"},
    ],
)
def test_redeem_a_reward_not_active_is_422_reward_inactive(
    api_client, member, give_points, make_reward, window
):
    give_points(member, 1000)
    now = timezone.now()
    fields = {
        key: now + DAY if value == "future" else now - DAY if value == "past" else value
        for key, value in window.items()
    }
    make_reward("NOT_NOW", **fields)

    response = post_idem(api_client, REDEEM, {"reward": "NOT_NOW"})

    assert_problem(response, HTTPStatus.UNPROCESSABLE_ENTITY, "reward_inactive")


def test_redeem_an_unknown_reward_is_404_reward_not_found(api_client, member, give_points):
    give_points(member, 1000)

    response = post_idem(api_client, REDEEM, {"reward": "NO_SUCH"})

    assert_problem(response, HTTPStatus.NOT_FOUND, "reward_not_found")


def test_redeem_for_an_unknown_or_erased_member(api_client, make_member, five_off, system_actor):
    member_erase(member=make_member(external_id="C-GONE"), actor=system_actor)

    unknown = post_idem(api_client, "/api/v1/members/C-NOBODY/redemptions", {"reward": "FIVE_OFF"})
    erased = post_idem(api_client, "/api/v1/members/C-GONE/redemptions", {"reward": "FIVE_OFF"})

    assert_problem(unknown, HTTPStatus.NOT_FOUND, "member_not_found")
    assert_problem(erased, HTTPStatus.GONE, "member_erased")


# --- use and cancel ----------------------------------------------------------------------------


def test_use_answers_200_with_the_redemption(api_client, member, issued):
    response = post_idem(api_client, _use(issued.pk), {"order_id": "O-77"})

    assert response.status_code == HTTPStatus.OK
    body = response.json()
    assert (body["id"], body["status"], body["coupon_code"]) == (
        str(issued.pk),
        "used",
        issued.coupon_code,
    )
    assert (body["reward"], body["points_spent"], body["value"]) == ("FIVE_OFF", 500, "5.00")
    assert body["balance"] == {"available": 700}


def test_use_refuses_unknown_fields_and_needs_order_id(api_client, member, issued):
    unknown = post_idem(api_client, _use(issued.pk), {"order_id": "O-1", "total": "5.00"})
    missing = post_idem(api_client, _use(issued.pk), {})

    assert_problem(unknown, HTTPStatus.BAD_REQUEST, "validation_error", field="total")
    assert_problem(missing, HTTPStatus.BAD_REQUEST, "validation_error", field="order_id")


def test_cancel_answers_200_and_returns_the_points_and_the_stock(
    api_client, member, issued, five_off
):
    response = post_idem(api_client, _cancel(issued.pk))

    assert response.status_code == HTTPStatus.OK
    body = response.json()
    assert (body["id"], body["status"], body["balance"]) == (
        str(issued.pk),
        "cancelled",
        {"available": 1200},
    )
    five_off.refresh_from_db()
    assert five_off.stock == 3
    assert _available(member) == 1200


def test_use_or_cancel_of_a_used_coupon_is_409_redemption_used(api_client, member, issued):
    assert post_idem(api_client, _use(issued.pk), {"order_id": "O-1"}).status_code == 200

    again = post_idem(api_client, _use(issued.pk), {"order_id": "O-2"})
    cancel = post_idem(api_client, _cancel(issued.pk))

    assert_problem(again, HTTPStatus.CONFLICT, "redemption_used")
    assert_problem(cancel, HTTPStatus.CONFLICT, "redemption_used")


def test_use_or_cancel_of_a_cancelled_coupon_is_409_redemption_cancelled(
    api_client, member, issued
):
    assert post_idem(api_client, _cancel(issued.pk)).status_code == HTTPStatus.OK

    use = post_idem(api_client, _use(issued.pk), {"order_id": "O-1"})
    again = post_idem(api_client, _cancel(issued.pk))

    assert_problem(use, HTTPStatus.CONFLICT, "redemption_cancelled")
    assert_problem(again, HTTPStatus.CONFLICT, "redemption_cancelled")
    assert _available(member) == 1200


def test_use_or_cancel_of_an_expired_coupon_is_409_redemption_expired(
    api_client, member, give_points, make_reward, system_actor
):
    long_ago = timezone.now() - 10 * DAY
    give_points(member, 1000, now=long_ago - DAY)
    make_reward("SHORT", coupon_valid_days=1)
    expired = redemption_create(
        member=member, reward_code="SHORT", actor=system_actor, now=long_ago
    ).redemption

    use = post_idem(api_client, _use(expired.pk), {"order_id": "O-1"})
    cancel = post_idem(api_client, _cancel(expired.pk))

    assert_problem(use, HTTPStatus.CONFLICT, "redemption_expired")
    assert_problem(cancel, HTTPStatus.CONFLICT, "redemption_expired")


def test_use_of_an_unknown_redemption_is_404(api_client, db):
    response = post_idem(api_client, _use(uuid.uuid4()), {"order_id": "O-1"})

    assert_problem(response, HTTPStatus.NOT_FOUND, "redemption_not_found")
