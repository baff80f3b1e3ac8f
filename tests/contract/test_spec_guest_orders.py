"""Contract: guest orders through `POST /api/v1/orders` (api.md, second wave: "without `member`,
with an optional `guest_key`: `201`, recorded as a guest order, no points"), their refunds, and
a guest who enrols later (docs/api.md, "Guest orders")."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from http import HTTPStatus

import pytest
from django.utils import timezone

from loyalty.models import GuestOrder, GuestRefund, Order, Posting, Refund
from loyalty.services.guests import guest_key_for_email
from tests.contract.conftest import assert_problem

pytestmark = pytest.mark.django_db

ORDERS = "/api/v1/orders"
PLACED = (timezone.now() - dt.timedelta(days=2)).replace(microsecond=0)
ZERO_POINTS = {"base": 0, "tier_bonus": 0, "campaign_bonus": [], "total": 0}


def guest_body(**overrides) -> dict:
    body = {
        "order_id": "G-1",
        "guest_key": "shop-77",
        "placed_at": PLACED.isoformat(),
        "currency": "GBP",
        "total": "42.50",
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


def post(client, body):
    return client.post(ORDERS, body, format="json")


def refund(client, order_id, **body):
    return client.post(f"{ORDERS}/{order_id}/refunds", body, format="json")


def test_an_order_without_member_is_a_guest_order_that_earns_nothing(api_client):
    response = post(api_client, guest_body(items=[{"sku": "A", "quantity": 2, "unit_price": "5"}]))

    assert response.status_code == HTTPStatus.CREATED, response.content
    assert response.json() == {
        "order_id": "G-1",
        "guest_key": "shop-77",
        "points": ZERO_POINTS,
        "available_on": None,
        "member": None,
    }
    guest = GuestOrder.objects.get()
    assert (guest.guest_key, guest.eligible_amount, guest.source) == (
        "shop-77",
        Decimal("42.50"),
        "api",
    )
    assert guest.items == [{"sku": "A", "quantity": 2, "unit_price": "5.00"}]
    assert (Order.objects.count(), Posting.objects.count()) == (0, 0)


def test_a_guest_order_without_guest_key_is_an_unknown_customer(api_client):
    response = post(api_client, guest_body(guest_key=None))

    assert response.status_code == HTTPStatus.CREATED, response.content
    assert "guest_key" not in response.json()
    assert GuestOrder.objects.get().guest_key == ""


def test_a_hashed_email_is_a_guest_key(api_client):
    key = guest_key_for_email("Lin@Example.com")

    response = post(api_client, guest_body(guest_key=key))

    assert response.status_code == HTTPStatus.CREATED, response.content
    assert GuestOrder.objects.get().guest_key == key


def test_a_guest_order_is_idempotent_by_order_id(api_client):
    first = post(api_client, guest_body())
    again = post(api_client, guest_body())
    other = post(api_client, guest_body(total="50.00"))

    assert (first.status_code, again.status_code) == (HTTPStatus.CREATED, HTTPStatus.OK)
    assert again.json() == first.json()
    assert_problem(other, HTTPStatus.CONFLICT, "order_conflict")
    assert GuestOrder.objects.count() == 1


def test_a_guest_order_under_a_members_order_id_is_a_conflict(api_client, member):
    member_order = guest_body(member=member.external_id, retro_credit=True)
    member_order.pop("guest_key")
    assert post(api_client, member_order).status_code == HTTPStatus.CREATED

    assert_problem(post(api_client, guest_body()), HTTPStatus.CONFLICT, "order_conflict")


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"member": "C-1001"}, "guest_key"),  # both: one or the other
        ({"guest_key": "lin@example.com"}, "guest_key"),  # an email is never a key
        ({"guest_key": "sha256:" + "G" * 64}, "guest_key"),  # not hex, too long for an id
        ({"guest_key": ""}, "guest_key"),
        ({"guest_key": "x" * 65}, "guest_key"),
        ({"guest_key": 17850}, "guest_key"),
        ({"retro_credit": True}, "retro_credit"),  # a member's order's flag
        ({"total": "10.00", "eligible_total": "12.00"}, "eligible_total"),
        ({"total": 42.5}, "total"),
    ],
)
def test_a_bad_guest_order_is_refused_naming_the_field(api_client, member, overrides, field):
    response = post(api_client, guest_body(**overrides))

    assert_problem(response, HTTPStatus.BAD_REQUEST, "validation_error", field=field)
    assert GuestOrder.objects.count() == 0


def test_a_guest_order_in_a_currency_without_rate_is_refused(api_client):
    response = post(api_client, guest_body(currency="JPY"))

    assert_problem(response, HTTPStatus.UNPROCESSABLE_ENTITY, "currency_mismatch")


def test_a_guest_orders_refund_is_recorded_on_it_and_reverses_nothing(api_client):
    post(api_client, guest_body())

    first = refund(api_client, "G-1", refund_id="R-1", amount="12.50")
    again = refund(api_client, "G-1", refund_id="R-1", amount="12.50")
    other = refund(api_client, "G-1", refund_id="R-1", amount="2.00")
    too_much = refund(api_client, "G-1", refund_id="R-2", amount="30.01")
    rest = refund(api_client, "G-1", refund_id="R-3", amount="30.00")

    assert first.status_code == HTTPStatus.CREATED, first.content
    assert first.json() == {
        "refund_id": "R-1",
        "points_reversed": 0,
        "points_shortfall": 0,
        "member": None,
    }
    assert (again.status_code, again.json()) == (HTTPStatus.OK, first.json())
    assert_problem(other, HTTPStatus.CONFLICT, "refund_conflict")
    assert_problem(too_much, HTTPStatus.UNPROCESSABLE_ENTITY, "refund_exceeds_order")
    assert rest.status_code == HTTPStatus.CREATED
    guest = GuestOrder.objects.get()
    assert (guest.refunded_total, guest.refunded_amount) == (Decimal("42.50"), Decimal("42.50"))
    assert GuestRefund.objects.count() == 2
    assert (Refund.objects.count(), Posting.objects.count()) == (0, 0)


def test_refund_ids_are_one_namespace_for_members_and_guests(api_client, member):
    member_order = guest_body(order_id="O-1", member=member.external_id, retro_credit=True)
    member_order.pop("guest_key")
    post(api_client, member_order)
    post(api_client, guest_body())
    assert refund(api_client, "O-1", refund_id="R-1", amount="1.00").status_code == 201

    assert_problem(
        refund(api_client, "G-1", refund_id="R-1", amount="1.00"),
        HTTPStatus.CONFLICT,
        "refund_conflict",
    )
    assert refund(api_client, "G-1", refund_id="R-2", amount="1.00").status_code == 201
    assert_problem(
        refund(api_client, "O-1", refund_id="R-2", amount="1.00"),
        HTTPStatus.CONFLICT,
        "refund_conflict",
    )
    assert_problem(
        refund(api_client, "NOPE", refund_id="R-3", amount="1.00"),
        HTTPStatus.NOT_FOUND,
        "order_not_found",
    )


def test_a_guest_who_enrols_gets_their_api_orders_and_refunds_as_history(api_client):
    # given: two guest orders under the shop's customer id, one partly refunded, and another
    # guest's order
    post(api_client, guest_body(order_id="G-1", guest_key="C-9", total="100.00"))
    post(api_client, guest_body(order_id="G-2", guest_key="C-9", total="40.00"))
    post(api_client, guest_body(order_id="G-3", guest_key="C-10", total="9.00"))
    refund(api_client, "G-1", refund_id="R-1", amount="25.00")

    # when: C-9 enrols through the storefront
    enrolled = api_client.put("/api/v1/members/C-9", {"email": "c9@example.com"}, format="json")

    # then: their guest orders are their orders, earning under the import's rules (1 point per
    # pound, entry tier), the refund reversing a quarter of G-1's points
    assert enrolled.status_code == HTTPStatus.CREATED, enrolled.content
    orders = Order.objects.filter(member__external_id="C-9")
    assert dict(orders.values_list("order_id", "points_base")) == {
        "guest:G-1": 100,
        "guest:G-2": 40,
    }
    claimed = Refund.objects.get()
    assert (claimed.refund_id, claimed.order.order_id, claimed.points_reversed) == (
        "guest:R-1",
        "guest:G-1",
        25,
    )
    assert GuestOrder.objects.get(order_id="G-3").member_id is None
    summary = api_client.get("/api/v1/members/C-9").json()
    assert summary["points"]["pending"] + summary["points"]["available"] == 115

    # and a refund of a claimed guest order reverses the claim's points
    later = refund(api_client, "G-2", refund_id="R-2", amount="40.00")
    assert later.status_code == HTTPStatus.CREATED, later.content
    assert later.json()["points_reversed"] == 40
    assert later.json()["member"] is not None
