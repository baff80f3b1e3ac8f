"""An order placed before the member enrolled (docs/api.md, "Orders placed before enrolment").

Refused (`422 order_before_enrolment`) unless the storefront asks for retro credit
(`"retro_credit": true`) and it was placed at most `LOYALTY_RETRO_CREDIT_DAYS` before enrolment.
On PostgreSQL the order path's one-statement case must refuse it too: the tests run there as well.
"""

from __future__ import annotations

import datetime as dt
from http import HTTPStatus

import pytest
from django.utils import timezone

from config.errors import ServiceError
from loyalty.models import Order, Posting
from tests.loyalty.test_api_orders import assert_problem, iso

DAY = dt.timedelta(days=1)


@pytest.fixture
def enrolled(make_member):
    """C-1, enrolled 10 days ago."""
    return make_member(
        external_id="C-1", enrolled_at=timezone.now().replace(microsecond=0) - 10 * DAY
    )


def body(placed_at: dt.datetime, **extra) -> dict:
    return {
        "order_id": "O-1",
        "member": "C-1",
        "placed_at": iso(placed_at),
        "currency": "GBP",
        "total": "80.00",
        **extra,
    }


def post(client, payload):
    return client.post("/api/v1/orders", payload, format="json")


def test_an_order_placed_before_enrolment_is_422_and_writes_nothing(api_client, enrolled):
    response = post(api_client, body(enrolled.enrolled_at - DAY))

    assert_problem(response, HTTPStatus.UNPROCESSABLE_ENTITY, "order_before_enrolment", "placed_at")
    assert (Order.objects.count(), Posting.objects.count()) == (0, 0)


def test_an_order_placed_at_the_enrolment_instant_earns(api_client, enrolled):
    response = post(api_client, body(enrolled.enrolled_at))

    assert response.status_code == HTTPStatus.CREATED, response.content
    assert response.json()["points"]["total"] == 80


def test_retro_credit_asked_for_earns_a_past_purchase(api_client, enrolled):
    response = post(api_client, body(enrolled.enrolled_at - 30 * DAY, retro_credit=True))

    assert response.status_code == HTTPStatus.CREATED, response.content
    # placed 40 days ago: past the 14 pending days, available at once
    assert response.json()["member"]["points"] == {"available": 80, "pending": 0}
    # the repeat answers as a repeat, with or without the flag (it is not part of the order)
    assert post(api_client, body(enrolled.enrolled_at - 30 * DAY)).status_code == HTTPStatus.OK


def test_retro_credit_is_bounded_by_the_configured_window(api_client, enrolled, settings):
    settings.LOYALTY_RETRO_CREDIT_DAYS = 7

    too_old = post(api_client, body(enrolled.enrolled_at - 8 * DAY, retro_credit=True))
    inside = post(
        api_client, body(enrolled.enrolled_at - 7 * DAY, retro_credit=True, order_id="O-2")
    )

    assert_problem(too_old, HTTPStatus.UNPROCESSABLE_ENTITY, "retro_credit_too_old", "placed_at")
    assert inside.status_code == HTTPStatus.CREATED, inside.content


@pytest.mark.parametrize("flag", ["true", 1, "yes"])
def test_retro_credit_must_be_a_json_boolean(api_client, enrolled, flag):
    response = post(api_client, body(enrolled.enrolled_at - DAY, retro_credit=flag))

    assert_problem(response, HTTPStatus.BAD_REQUEST, "validation_error", "retro_credit")


def test_the_service_refuses_it_too(enrolled, record_order):
    with pytest.raises(ServiceError) as refused:
        record_order(enrolled, "O-1", placed_at=enrolled.enrolled_at - DAY, now=timezone.now())

    assert refused.value.code == "order_before_enrolment"
