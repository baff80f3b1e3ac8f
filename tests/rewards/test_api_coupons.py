"""`GET /api/v1/members/{id}/coupons` and `GET /api/v1/coupons/{code}` (validate at checkout)."""

from __future__ import annotations

import datetime as dt
from http import HTTPStatus

import pytest
from django.utils import timezone

from members.services import member_erase
from rewards.services import redemption_cancel, redemption_create, redemption_use


@pytest.fixture
def coupons(member, make_member, make_reward, give_points, system_actor):
    """Four coupons of C-1001: open, used, cancelled, past expiry (not yet marked); one of C-2."""
    make_reward(code="FIVE_OFF", coupon_valid_days=30)
    make_reward(code="SHORT", coupon_valid_days=1)
    give_points(member, 5000)
    other = make_member(external_id="C-2")
    give_points(other, 1000)
    now = timezone.now()

    def redeem(who, code, *, ago):
        return redemption_create(
            member=who, reward_code=code, actor=system_actor, now=now - ago
        ).redemption

    minute = dt.timedelta(minutes=1)
    made = {
        "open": redeem(member, "FIVE_OFF", ago=3 * minute),
        "used": redeem(member, "FIVE_OFF", ago=2 * minute),
        "cancelled": redeem(member, "FIVE_OFF", ago=minute),
        "lapsed": redeem(member, "SHORT", ago=dt.timedelta(days=3)),
        "other": redeem(other, "FIVE_OFF", ago=minute),
    }
    redemption_use(redemption=made["used"], order_id="O-9", actor=system_actor)
    redemption_cancel(redemption=made["cancelled"], actor=system_actor)
    return made


def test_the_member_coupons_newest_first_with_the_status_they_see(api_client, coupons):
    response = api_client.get("/api/v1/members/C-1001/coupons")

    assert response.status_code == HTTPStatus.OK
    body = response.json()
    assert body["count"] == 4
    got = [(c["code"], c["reward"], c["status"], c["used_order_id"]) for c in body["results"]]
    assert got == [
        (coupons["cancelled"].coupon_code, "FIVE_OFF", "cancelled", None),
        (coupons["used"].coupon_code, "FIVE_OFF", "used", "O-9"),
        (coupons["open"].coupon_code, "FIVE_OFF", "issued", None),
        (coupons["lapsed"].coupon_code, "SHORT", "expired", None),
    ]
    first = body["results"][2]
    assert {k: first[k] for k in ("kind", "value", "currency", "points_spent", "reward_name")} == {
        "kind": "fixed_discount",
        "value": "5.00",
        "currency": "GBP",
        "points_spent": 500,
        "reward_name": "£5 off",
    }


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("issued", ["open"]),
        ("used", ["used"]),
        ("cancelled", ["cancelled"]),
        ("expired", ["lapsed"]),
    ],
)
def test_the_status_filter_uses_the_status_the_member_sees(api_client, coupons, status, expected):
    response = api_client.get("/api/v1/members/C-1001/coupons", {"status": status})

    codes = [c["code"] for c in response.json()["results"]]
    assert codes == [coupons[name].coupon_code for name in expected]


def test_a_bad_status_or_unknown_member_is_refused(api_client, coupons):
    bad = api_client.get("/api/v1/members/C-1001/coupons", {"status": "lost"})
    unknown = api_client.get("/api/v1/members/NOPE/coupons")

    assert (bad.status_code, bad.json()["code"]) == (HTTPStatus.BAD_REQUEST, "validation_error")
    assert bad.json()["errors"][0]["field"] == "status"
    assert (unknown.status_code, unknown.json()["code"]) == (
        HTTPStatus.NOT_FOUND,
        "member_not_found",
    )


def test_an_open_coupon_validates_for_its_owner(api_client, coupons):
    code = coupons["open"].coupon_code

    response = api_client.get(f"/api/v1/coupons/{code.lower()}", {"member": "C-1001"})

    assert response.status_code == HTTPStatus.OK
    body = response.json()
    assert {k: body[k] for k in ("code", "member", "reward", "status", "valid", "reason")} == {
        "code": code,
        "member": "C-1001",
        "reward": "FIVE_OFF",
        "status": "issued",
        "valid": True,
        "reason": None,
    }


@pytest.mark.parametrize("name", ["used", "cancelled", "lapsed"])
def test_a_spent_coupon_is_not_valid_and_says_why(api_client, coupons, name):
    response = api_client.get(f"/api/v1/coupons/{coupons[name].coupon_code}", {"member": "C-1001"})

    body = response.json()
    expected = {"used": "used", "cancelled": "cancelled", "lapsed": "expired"}[name]
    assert (response.status_code, body["valid"], body["reason"]) == (HTTPStatus.OK, False, expected)


def test_another_members_coupon_is_not_found_like_an_unknown_code(api_client, coupons):
    theirs = api_client.get(f"/api/v1/coupons/{coupons['other'].coupon_code}", {"member": "C-1001"})
    unknown = api_client.get("/api/v1/coupons/ZZZZZZZZZZZZ", {"member": "C-1001"})

    assert theirs.status_code == unknown.status_code == HTTPStatus.NOT_FOUND
    assert theirs.json() == unknown.json()
    assert theirs.json()["code"] == "coupon_not_found"


def test_validating_needs_the_member(api_client, coupons, system_actor, member):
    missing = api_client.get(f"/api/v1/coupons/{coupons['open'].coupon_code}")
    member_erase(member=member, actor=system_actor)
    erased = api_client.get(f"/api/v1/coupons/{coupons['open'].coupon_code}", {"member": "C-1001"})

    assert (missing.status_code, missing.json()["errors"][0]["field"]) == (
        HTTPStatus.BAD_REQUEST,
        "member",
    )
    assert (erased.status_code, erased.json()["code"]) == (HTTPStatus.GONE, "member_erased")
