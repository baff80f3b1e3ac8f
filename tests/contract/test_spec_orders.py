"""Contract: `POST /api/v1/orders`, `POST /api/v1/orders/{order_id}/refunds` and
`GET /api/v1/members/{external_id}/transactions`, as api.md writes them.

Orders and refunds are idempotent by their own ids: no `Idempotency-Key` is needed.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from http import HTTPStatus

import pytest
from django.utils import timezone

from loyalty.models import Order, Posting
from loyalty.services.jobs import daily_jobs_run
from rewards.services import redemption_cancel, redemption_create
from tests.campaigns.factories import make_campaign
from tests.contract.conftest import (
    assert_date,
    assert_instant,
    assert_int,
    assert_problem,
)

ORDERS = "/api/v1/orders"
TRANSACTIONS = "/api/v1/members/C-1001/transactions"
DAY = dt.timedelta(days=1)
SPEC_KINDS = {
    "earn",
    "tier_bonus",
    "campaign_bonus",
    "redeem",
    "refund_reversal",
    "expire",
    "adjust",
    "cancel_redemption",
}
TRANSACTION_FIELDS = {
    "id",
    "kind",
    "points",
    "status",
    "created_at",
    "effective_at",
    "available_at",
    "expires_at",
    "description",
    "order_id",
    "reward_code",
    "campaign_code",
}


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _order(**overrides) -> dict:
    body = {
        "order_id": "O-1",
        "member": "C-1001",
        "placed_at": _iso(timezone.now() - dt.timedelta(hours=1)),
        "currency": "GBP",
        "total": "120.00",
    }
    return {**body, **overrides}


def _refunds(order_id: str = "O-1") -> str:
    return f"/api/v1/orders/{order_id}/refunds"


# --- orders ------------------------------------------------------------------------------------


def test_an_order_answers_201_with_the_spec_body_and_needs_no_idempotency_key(
    api_client, member, ladder
):
    make_campaign("double", "multiplier", multiplier=Decimal("2.00"))
    body = _order(
        eligible_total="100.00",
        items=[{"sku": "SKU-1", "category": "shoes", "quantity": 2, "unit_price": "50.00"}],
        channel="web",
    )

    response = api_client.post(ORDERS, body, format="json")

    assert response.status_code == HTTPStatus.CREATED
    got = response.json()
    assert set(got) >= {"order_id", "points", "available_on", "member"}
    assert got["order_id"] == "O-1"
    assert set(got["points"]) >= {"base", "tier_bonus", "campaign_bonus", "total"}
    points = got["points"]
    for key in ("base", "tier_bonus", "total"):
        assert_int(points[key])
    assert points["base"] == 100  # 1 point per £1 of the eligible total
    assert points["campaign_bonus"] == [{"campaign": "double", "points": 100}]
    assert points["total"] == points["base"] + points["tier_bonus"] + 100
    assert_date(got["available_on"])
    assert got["member"]["tier"] == "member"
    assert got["member"]["points"] == {"available": 0, "pending": points["total"]}


def test_a_gold_members_order_carries_the_tier_bonus(api_client, member, ladder, record_order):
    record_order(member, "O-0", "600.00", placed_at=timezone.now() - 10 * DAY)

    got = api_client.post(ORDERS, _order(total="100.00"), format="json").json()

    assert got["member"]["tier"] == "gold"
    assert (got["points"]["base"], got["points"]["tier_bonus"], got["points"]["total"]) == (
        100,
        50,
        150,
    )


def test_the_same_order_again_is_200_with_the_same_body(api_client, member):
    body = _order()
    first = api_client.post(ORDERS, body, format="json")

    again = api_client.post(ORDERS, body, format="json")

    assert (first.status_code, again.status_code) == (HTTPStatus.CREATED, HTTPStatus.OK)
    assert again.json() == first.json()
    assert Order.objects.count() == 1


def test_the_same_order_id_with_other_content_is_409_order_conflict(api_client, member):
    api_client.post(ORDERS, _order(), format="json")

    response = api_client.post(ORDERS, _order(total="99.00"), format="json")

    assert_problem(response, HTTPStatus.CONFLICT, "order_conflict")


def test_an_order_for_an_unknown_member_is_404(api_client, db):
    response = api_client.post(ORDERS, _order(member="C-NOBODY"), format="json")

    assert_problem(response, HTTPStatus.NOT_FOUND, "member_not_found")


def test_an_order_in_another_currency_without_a_rate_is_422_currency_mismatch(api_client, member):
    response = api_client.post(ORDERS, _order(currency="USD"), format="json")

    assert_problem(response, HTTPStatus.UNPROCESSABLE_ENTITY, "currency_mismatch")


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"total": 120.0}, "total"),
        ({"total": 120}, "total"),
        ({"total": "120.001"}, "total"),
        ({"eligible_total": 100}, "eligible_total"),
        ({"placed_at": "2026-01-05T10:00:00"}, "placed_at"),
        ({"coupon": "X"}, "coupon"),
        ({"items": [{"sku": "A", "quantity": 1, "unit_price": 5}]}, "items[0].unit_price"),
        ({"items": [{"sku": "A", "quantity": 1, "unit_price": "5.00", "x": 1}]}, "items[0].x"),
    ],
)
def test_bad_orders_are_400_validation_error_naming_the_field(api_client, member, overrides, field):
    response = api_client.post(ORDERS, _order(**overrides), format="json")

    assert_problem(response, HTTPStatus.BAD_REQUEST, "validation_error", field=field)
    assert Order.objects.count() == 0


# --- refunds -----------------------------------------------------------------------------------


def test_a_refund_answers_201_then_200_with_the_same_body(api_client, member):
    api_client.post(ORDERS, _order(total="100.00"), format="json")
    body = {"refund_id": "R-1", "amount": "40.00"}

    first = api_client.post(_refunds(), body, format="json")
    again = api_client.post(_refunds(), body, format="json")

    assert first.status_code == HTTPStatus.CREATED
    got = first.json()
    assert set(got) >= {"refund_id", "points_reversed", "member"}
    assert (got["refund_id"], got["points_reversed"]) == ("R-1", 40)
    assert got["member"]["points"] == {"available": 0, "pending": 60}
    assert again.status_code == HTTPStatus.OK
    assert again.json() == got


def test_a_refund_takes_a_refunded_at_with_a_zone(api_client, member):
    api_client.post(ORDERS, _order(total="100.00"), format="json")

    response = api_client.post(
        _refunds(),
        {"refund_id": "R-1", "amount": "10.00", "refunded_at": _iso(timezone.now())},
        format="json",
    )

    assert response.status_code == HTTPStatus.CREATED


def test_refund_errors(api_client, member):
    api_client.post(ORDERS, _order(total="100.00"), format="json")
    api_client.post(_refunds(), {"refund_id": "R-1", "amount": "40.00"}, format="json")

    unknown = api_client.post(
        _refunds("O-404"), {"refund_id": "R-9", "amount": "1.00"}, format="json"
    )
    too_much = api_client.post(_refunds(), {"refund_id": "R-2", "amount": "60.01"}, format="json")
    conflict = api_client.post(_refunds(), {"refund_id": "R-1", "amount": "41.00"}, format="json")
    number = api_client.post(_refunds(), {"refund_id": "R-3", "amount": 1.0}, format="json")

    assert_problem(unknown, HTTPStatus.NOT_FOUND, "order_not_found")
    assert_problem(too_much, HTTPStatus.UNPROCESSABLE_ENTITY, "refund_exceeds_order")
    assert_problem(conflict, HTTPStatus.CONFLICT, "refund_conflict")
    assert_problem(number, HTTPStatus.BAD_REQUEST, "validation_error", field="amount")


# --- transactions ------------------------------------------------------------------------------


@pytest.fixture
def history(member, ladder, give_points, make_reward, record_order, record_refund, system_actor):
    """A ledger with every kind the spec lists."""
    now = timezone.now()
    make_campaign("double", "multiplier", multiplier=Decimal("2.00"))
    record_order(member, "O-OLD", "10.00", placed_at=now - 400 * DAY)  # expired by now
    record_order(member, "O-GOLD", "600.00", placed_at=now - 5 * DAY)  # earn, campaign bonus
    record_order(member, "O-2", "100.00", placed_at=now - 2 * DAY)  # tier bonus too
    record_refund("O-2", "R-1", "50.00", now=now - DAY)
    give_points(member, 1000)
    make_reward("FIVE_OFF")
    redemption = redemption_create(member=member, reward_code="FIVE_OFF", actor=system_actor)
    redemption_cancel(redemption=redemption.redemption, actor=system_actor, reason="test")
    daily_jobs_run()
    return member


def test_transactions_list_every_spec_kind_newest_first_with_the_spec_fields(api_client, history):
    response = api_client.get(TRANSACTIONS, {"page_size": 200})

    assert response.status_code == HTTPStatus.OK
    body = response.json()
    assert set(body) == {"count", "next", "previous", "results"}
    items = body["results"]
    assert body["count"] == len(items) == Posting.objects.filter(member=history).count()
    assert {item["kind"] for item in items} == SPEC_KINDS
    for item in items:
        assert set(item) >= TRANSACTION_FIELDS
        assert_int(item["points"])
        assert item["status"] in {"pending", "available"}
        for key in ("created_at", "effective_at"):
            assert_instant(item[key])
        for key in ("available_at", "expires_at"):
            if item[key] is not None:
                assert_instant(item[key])
    # Newest first by when each movement counts (`effective_at`: an order's points count from
    # when it was placed, even when it is recorded later).
    effective = [
        dt.datetime.fromisoformat(item["effective_at"].replace("Z", "+00:00")) for item in items
    ]
    assert effective == sorted(effective, reverse=True)
    earned = next(i for i in items if i["kind"] == "earn" and i["order_id"] == "O-2")
    assert earned["status"] == "pending"
    assert next(i for i in items if i["kind"] == "redeem")["reward_code"] == "FIVE_OFF"
    assert next(i for i in items if i["kind"] == "campaign_bonus")["campaign_code"] == "double"


@pytest.mark.parametrize("kind", sorted(SPEC_KINDS))
def test_transactions_filter_by_each_spec_kind(api_client, history, kind):
    items = api_client.get(TRANSACTIONS, {"kind": kind}).json()["results"]

    assert items
    assert {item["kind"] for item in items} == {kind}


@pytest.mark.parametrize("status", ["pending", "available"])
def test_transactions_filter_by_status(api_client, history, status):
    items = api_client.get(TRANSACTIONS, {"status": status}).json()["results"]

    assert items
    assert {item["status"] for item in items} == {status}


def test_transactions_filter_from_and_to(api_client, history):
    today = timezone.localdate()
    recent = api_client.get(TRANSACTIONS, {"from": (today - 3 * DAY).isoformat()}).json()
    old = api_client.get(TRANSACTIONS, {"to": (today - 300 * DAY).isoformat()}).json()

    assert recent["count"] > 0
    assert "O-OLD" not in {i["order_id"] for i in recent["results"]}
    assert {i["order_id"] for i in old["results"]} == {"O-OLD"}


def test_transactions_are_paginated(api_client, history):
    first = api_client.get(TRANSACTIONS, {"page_size": 2}).json()

    assert len(first["results"]) == 2
    assert first["previous"] is None
    assert "page=2" in first["next"]


def test_transactions_of_unknown_or_erased_members(api_client, make_member, system_actor):
    from members.services import member_erase

    member_erase(member=make_member(external_id="C-GONE"), actor=system_actor)

    unknown = api_client.get("/api/v1/members/C-NOBODY/transactions")
    erased = api_client.get("/api/v1/members/C-GONE/transactions")

    assert_problem(unknown, HTTPStatus.NOT_FOUND, "member_not_found")
    assert_problem(erased, HTTPStatus.GONE, "member_erased")
