"""`POST /api/v1/orders/{order_id}/refunds`: reversing what a refunded order earned."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from http import HTTPStatus

import pytest
from django.db import transaction
from django.utils import timezone

from loyalty.models import Posting, Refund
from loyalty.services.points import points_spend
from tests.loyalty.test_api_orders import assert_problem, iso, order_body, placed, post
from tests.loyalty.tiers_helpers import settings_set


def refund(client, order_id="O-1", **body):
    body.setdefault("refund_id", "R-1")
    body.setdefault("amount", "50.00")
    return client.post(f"/api/v1/orders/{order_id}/refunds", body, format="json")


@pytest.fixture
def order(api_client, member):
    """O-1: 100.00, 100 points, still pending."""
    response = post(api_client, order_body(total="100.00"))
    assert response.status_code == HTTPStatus.CREATED
    return response.json()


def test_a_refund_reverses_its_share_and_answers_201(api_client, member, order):
    response = refund(api_client, amount="25.50")

    assert response.status_code == HTTPStatus.CREATED
    assert response.json() == {
        "refund_id": "R-1",
        "points_reversed": 25,
        "points_shortfall": 0,
        "member": {"points": {"available": 0, "pending": 75}},
    }
    reversal = Posting.objects.get(member=member, kind="refund_reversal")
    assert (reversal.points, reversal.actor_kind) == (-25, "api")


def test_refunds_in_parts_reverse_what_one_refund_would(api_client, member, order):
    parts = [
        refund(api_client, refund_id=f"R-{i}", amount=amount).json()["points_reversed"]
        for i, amount in enumerate(["33.33", "33.33", "33.34"])
    ]

    assert parts == [33, 33, 34]
    assert sum(parts) == 100


def test_the_same_refund_again_answers_200_with_the_same_body(api_client, member, order):
    first = refund(api_client)

    again = refund(api_client)

    assert (first.status_code, again.status_code) == (HTTPStatus.CREATED, HTTPStatus.OK)
    assert again.json() == first.json()
    assert Refund.objects.count() == 1
    assert Posting.objects.filter(kind="refund_reversal").count() == 1


def test_refunded_at_is_recorded_and_part_of_the_refund(api_client, member, order):
    when = placed(minutes=30)

    first = refund(api_client, refunded_at=iso(when))
    other_time = refund(api_client, refunded_at=iso(when + dt.timedelta(minutes=1)))

    assert first.status_code == HTTPStatus.CREATED
    assert Refund.objects.get(refund_id="R-1").refunded_at == when
    assert_problem(other_time, HTTPStatus.CONFLICT, "refund_conflict")


def test_the_same_refund_id_with_another_amount_is_409_refund_conflict(api_client, member, order):
    refund(api_client, amount="50.00")

    response = refund(api_client, amount="40.00")

    assert_problem(response, HTTPStatus.CONFLICT, "refund_conflict")


def test_the_same_refund_id_on_another_order_is_409_refund_conflict(api_client, member, order):
    post(api_client, order_body(order_id="O-2", total="10.00"))
    refund(api_client, amount="5.00")

    response = refund(api_client, order_id="O-2", amount="5.00")

    assert_problem(response, HTTPStatus.CONFLICT, "refund_conflict")


def test_a_refund_of_an_unknown_order_is_404_order_not_found(api_client, db):
    response = refund(api_client, order_id="O-404")

    assert_problem(response, HTTPStatus.NOT_FOUND, "order_not_found")


def test_refunds_beyond_the_order_are_422_refund_exceeds_order(api_client, member, order):
    refund(api_client, refund_id="R-1", amount="60.00")

    response = refund(api_client, refund_id="R-2", amount="40.01")

    assert_problem(response, HTTPStatus.UNPROCESSABLE_ENTITY, "refund_exceeds_order", "amount")
    assert Refund.objects.count() == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"amount": 10}, "amount"),
        ({"amount": 10.5}, "amount"),
        ({"amount": "10.001"}, "amount"),
        ({"amount": "-10.00"}, "amount"),
        ({"amount": "0.00"}, "amount"),
        ({"refunded_at": "2026-01-05 10:00"}, "refunded_at"),
        ({"refund_id": ""}, "refund_id"),
        ({"reason": "damaged"}, "reason"),
    ],
)
def test_a_malformed_refund_is_400_validation_error_naming_the_field(
    api_client, member, order, body, field
):
    response = refund(api_client, **body)

    assert_problem(response, HTTPStatus.BAD_REQUEST, "validation_error", field)
    assert Refund.objects.count() == 0


def test_refunded_at_in_the_future_is_refused(api_client, member, order):
    response = refund(api_client, refunded_at=iso(timezone.now() + dt.timedelta(hours=1)))

    assert_problem(response, HTTPStatus.BAD_REQUEST, "validation_error", "refunded_at")


def test_a_shortfall_is_reported_when_negative_balances_are_off(api_client, member, system_actor):
    settings_set(allow_negative_balance=False)
    post(api_client, order_body(placed_at=iso(placed(days=-20)), total="100.00"))
    with transaction.atomic():
        points_spend(member=member, points=80, actor=system_actor, idempotency_key="spend-1")

    response = refund(api_client, amount="100.00")

    assert response.status_code == HTTPStatus.CREATED
    assert response.json() == {
        "refund_id": "R-1",
        "points_reversed": 20,
        "points_shortfall": 80,
        "member": {"points": {"available": 0, "pending": 0}},
    }
    assert Refund.objects.get().shortfall == 80


def test_with_negative_balances_on_a_refund_of_spent_points_leaves_a_debt(
    api_client, member, system_actor
):
    post(api_client, order_body(placed_at=iso(placed(days=-20)), total="100.00"))
    with transaction.atomic():
        points_spend(member=member, points=80, actor=system_actor, idempotency_key="spend-1")

    response = refund(api_client, amount="100.00")

    assert response.json()["points_reversed"] == 100
    assert response.json()["member"] == {"points": {"available": -80, "pending": 0}}
    assert Refund.objects.get().amount == Decimal("100.00")


def test_without_an_api_key_it_is_401(anon_client, member, order):
    response = refund(anon_client)

    assert_problem(response, HTTPStatus.UNAUTHORIZED, "unauthenticated")


def test_a_repeated_refund_answers_the_first_answers_balance_not_todays(
    api_client, member, order, record_order
):
    # given: a refund answered with the balance of that moment
    first = refund(api_client, amount="25.00")
    assert first.json()["member"] == {"points": {"available": 0, "pending": 75}}
    # ... then the member earns more
    assert post(api_client, order_body(order_id="O-2", total="40.00")).status_code == 201

    # when: the refund is sent again
    again = refund(api_client, amount="25.00")

    # then: the same body (docs/api.md), although the balance is 115 pending now
    assert (again.status_code, again.json()) == (HTTPStatus.OK, first.json())
    assert Refund.objects.get().answered_pending == 75


@pytest.mark.parametrize("value", [42, 4.2, True, None, ["R-1"], {"id": "R-1"}])
def test_a_refund_id_that_is_not_a_json_string_is_400(api_client, member, order, value):
    response = refund(api_client, refund_id=value)

    assert_problem(response, HTTPStatus.BAD_REQUEST, "validation_error", "refund_id")
    assert Refund.objects.count() == 0
