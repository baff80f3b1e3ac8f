"""Guest orders: the API records an order without a member (nothing earned, idempotent), and a
guest who enrols later gets their guest orders as their history, earning under the import's
rules (docs/api.md, "Guest orders")."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from http import HTTPStatus

import pytest
from django.utils import timezone

from loyalty.models import GuestOrder, Order, Posting
from loyalty.services.enrolment import program_member_enrol
from loyalty.services.guests import guest_key_for_email, guest_order_record

pytestmark = pytest.mark.django_db

DAY = dt.timedelta(days=1)


def _body(**overrides) -> dict:
    body = {
        "order_id": "G-1",
        "guest_key": "shop-customer-77",
        "placed_at": (timezone.now() - DAY).isoformat(),
        "currency": "GBP",
        "total": "42.50",
    }
    return {**body, **overrides}


def test_an_order_without_a_member_is_recorded_as_a_guest_order(api_client):
    body = _body()

    first = api_client.post("/api/v1/orders", body, format="json")
    again = api_client.post("/api/v1/orders", body, format="json")

    assert first.status_code == HTTPStatus.CREATED
    assert again.status_code == HTTPStatus.OK
    assert first.json() == again.json()
    assert first.json()["guest_key"] == "shop-customer-77"
    assert first.json()["eligible_amount"] == "42.50"
    assert GuestOrder.objects.count() == 1
    assert Posting.objects.count() == 0
    assert Order.objects.count() == 0


def test_the_same_guest_order_id_with_other_content_is_a_conflict(api_client):
    api_client.post("/api/v1/orders", _body(), format="json")

    response = api_client.post("/api/v1/orders", _body(total="50.00"), format="json")

    assert response.status_code == HTTPStatus.CONFLICT
    assert response.json()["code"] == "order_conflict"


@pytest.mark.parametrize(
    ("extra", "field"),
    [({"member": "C-1"}, "guest_key"), ({"guest_key": None}, "member")],
)
def test_either_member_or_guest_key_is_required(api_client, extra, field):
    body = {k: v for k, v in {**_body(), **extra}.items() if v is not None}

    response = api_client.post("/api/v1/orders", body, format="json")

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json()["code"] == "validation_error"
    assert field in str(response.json())


def test_a_guest_who_enrols_gets_their_orders_as_history_under_the_import_rules(system_actor):
    # given: two orders by the same email, one 500 days ago (its points' lifetime is over),
    # one 3 days ago (still pending), and another guest's order
    now = timezone.now()
    key = guest_key_for_email("  Lin@Example.com ")
    for order_id, total, days in (("W-1", "100.00", 500), ("W-2", "40.00", 3)):
        guest_order_record(
            order_id=order_id,
            guest_key=key,
            placed_at=now - days * DAY,
            currency="GBP",
            total=Decimal(total),
        )
    guest_order_record(
        order_id="W-3", guest_key="other", placed_at=now - DAY, currency="GBP", total=Decimal(9)
    )

    # when
    member = program_member_enrol(actor=system_actor, external_id="C-9", email="lin@example.com")

    # then
    orders = dict(Order.objects.filter(member=member).values_list("order_id", "points_base"))
    assert orders == {"guest:W-1": 100, "guest:W-2": 40}
    assert set(GuestOrder.objects.filter(member=member).values_list("order_id", flat=True)) == {
        "W-1",
        "W-2",
    }
    assert GuestOrder.objects.get(order_id="W-3").member_id is None
    kinds = sorted(Posting.objects.filter(member=member).values_list("kind", "points"))
    assert kinds == [("earn", 40), ("earn", 100), ("expire", -100)]
    member.account.refresh_from_db()
    assert (member.account.available, member.account.pending) == (0, 40)


def test_a_guest_order_is_claimed_once(system_actor):
    guest_order_record(
        order_id="W-1",
        guest_key="C-9",
        placed_at=timezone.now() - DAY,
        currency="GBP",
        total=Decimal(10),
    )
    member = program_member_enrol(actor=system_actor, external_id="C-9", email="a@example.com")

    from django.db import transaction

    from loyalty.services.guests import guest_orders_claim

    with transaction.atomic():
        again = guest_orders_claim(member=member, actor=system_actor)

    assert again == 0
    assert Order.objects.filter(member=member).count() == 1
