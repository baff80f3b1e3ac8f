"""Contract: the spec's second wave, "Paid plans" (api.md): `POST .../memberships` takes
`{"plan", "trial", "payment_reference"}` and answers 201; an unknown plan is `404 plan_not_found`;
`.../memberships/{id}/renew`, `/cancel`, `/refund` and `.../perk-usage` exist, are idempotent and
answer problems with stable codes. The paths and codes are also in the served schema."""

from __future__ import annotations

from decimal import Decimal
from http import HTTPStatus

import pytest
from rest_framework.test import APIClient

from memberships.services import plan_save
from tests.contract.conftest import assert_date, assert_instant, assert_problem, post_idem

pytestmark = pytest.mark.django_db

BASE = "/api/v1/members/C-1001/memberships"


@pytest.fixture
def plus(db, system_actor):
    return plan_save(
        actor=system_actor,
        code="plus",
        name="Plus",
        price=Decimal("9.99"),
        currency="GBP",
        period_months=1,
        trial_days=7,
    )


def test_post_takes_the_spec_fields_and_answers_201(api_client, member, plus):
    response = post_idem(
        api_client, BASE, {"plan": "plus", "trial": False, "payment_reference": "ch_1"}
    )

    assert response.status_code == HTTPStatus.CREATED
    body = response.json()
    assert (body["plan"], body["status"], body["charges"][0]["amount"]) == (
        "plus",
        "active",
        "9.99",
    )
    assert_instant(body["current_period_end"])
    assert_date(body["renews_on"])


def test_an_unknown_plan_is_404_plan_not_found(api_client, member, plus):
    response = post_idem(api_client, BASE, {"plan": "gold", "trial": True})

    assert_problem(response, HTTPStatus.NOT_FOUND, "plan_not_found")


def test_renew_cancel_refund_and_perk_usage_exist_and_are_idempotent(api_client, member, plus):
    started = post_idem(api_client, BASE, {"plan": "plus", "trial": True}).json()
    one = f"{BASE}/{started['id']}"

    renewed = post_idem(api_client, f"{one}/renew", {"payment_reference": "ch_2"}, key="renew-1")
    replay = post_idem(api_client, f"{one}/renew", {"payment_reference": "ch_2"}, key="renew-1")
    usage = post_idem(api_client, f"{one}/perk-usage", {"perk": "none", "order_id": "O-1"})
    cancelled = post_idem(api_client, f"{one}/cancel", {"at_period_end": True})
    refunded = post_idem(api_client, f"{one}/refund")
    again = post_idem(api_client, f"{one}/refund")

    assert (renewed.status_code, replay.status_code) == (HTTPStatus.OK, HTTPStatus.OK)
    assert replay["Idempotent-Replayed"] == "true"
    assert replay.json() == renewed.json()
    assert_problem(usage, HTTPStatus.NOT_FOUND, "perk_not_found")
    assert cancelled.json()["status"] == "cancelled"
    assert refunded.json()["status"] == "refunded"
    assert_problem(again, HTTPStatus.CONFLICT, "invalid_transition")
    assert again.json()["state"] == "refunded"


def test_the_schema_names_the_paths_and_codes(db):
    schema = APIClient().get("/api/v1/schema/?format=json").json()
    paths = schema["paths"]
    one = "/api/v1/members/{external_id}/memberships/{membership_id}"

    assert {"get", "post"} <= set(paths["/api/v1/members/{external_id}/memberships"])
    for action in ("renew", "cancel", "refund", "perk-usage"):
        assert "post" in paths[f"{one}/{action}"]
    start = paths["/api/v1/members/{external_id}/memberships"]["post"]
    assert "`plan_not_found`" in start["responses"]["404"]["description"]
    assert "`already_member`" in start["responses"]["409"]["description"]
    assert "`plan_inactive`" in start["responses"]["422"]["description"]
    assert "`not_refundable`" in paths[f"{one}/refund"]["post"]["responses"]["422"]["description"]
    assert (
        "`invalid_transition`" in paths[f"{one}/renew"]["post"]["responses"]["409"]["description"]
    )
