"""The storefront's paid-membership API: every endpoint's success and refusals, idempotency, and
the member summary's `membership`."""

from __future__ import annotations

from http import HTTPStatus

import pytest
from django.utils import timezone

from memberships.models import Membership, MembershipCharge, PerkUsage
from memberships.services import (
    membership_cancel,
    membership_start,
    memberships_lapse_and_expire,
)

pytestmark = pytest.mark.django_db

BASE = "/api/v1/members/C-1001/memberships"


def _post(client, url, body, key):
    return client.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY=key)


def _start(client, body=None, key="start-1"):
    return _post(client, BASE, body or {"plan": "plus", "payment_reference": "pay-1"}, key)


def test_start_answers_201_with_the_membership_and_its_history(api_client, member, plan):
    response = _start(api_client)

    assert response.status_code == HTTPStatus.CREATED
    body = response.json()
    membership = Membership.objects.get()
    period_end = timezone.localtime(membership.current_period_end)
    assert body == {
        "id": membership.pk,
        "plan": "plus",
        "name": "Plus",
        "status": "active",
        "started_at": body["started_at"],
        "current_period_start": body["started_at"],
        "current_period_end": body["current_period_end"],
        "renews_on": period_end.date().isoformat(),
        "ends_at": None,
        "grace_until": None,
        "cancelled_at": None,
        "ended_at": None,
        "perks": [
            {
                "code": "free_shipping",
                "name": "Free shipping",
                "kind": "free_shipping",
                "value": None,
            }
        ],
        "periods": [
            {
                "number": 1,
                "kind": "paid",
                "starts_at": body["started_at"],
                "ends_at": body["current_period_end"],
            }
        ],
        "charges": [
            {
                "period": 1,
                "kind": "payment",
                "amount": "12.00",
                "currency": "GBP",
                "payment_reference": "pay-1",
                "created_at": body["charges"][0]["created_at"],
            }
        ],
        "perk_usages": [],
    }


def test_start_is_idempotent_by_its_key(api_client, member, plan):
    first = _start(api_client)
    again = _start(api_client)

    assert again.status_code == HTTPStatus.CREATED
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert (Membership.objects.count(), MembershipCharge.objects.count()) == (1, 1)


def test_start_refusals(api_client, member, make_plan):
    make_plan(code="old", name="Old", active=False)
    make_plan(code="plus")

    unknown = _start(api_client, {"plan": "gold", "payment_reference": "p"}, key="k1")
    inactive = _start(api_client, {"plan": "old", "payment_reference": "p"}, key="k2")
    _start(api_client, key="k3")
    twice = _start(api_client, {"plan": "plus", "payment_reference": "p9"}, key="k4")
    typed = _start(api_client, {"plan": "plus", "trial": "true"}, key="k5")
    extra = _start(api_client, {"plan": "plus", "price": "1.00"}, key="k6")

    assert (unknown.status_code, unknown.json()["code"]) == (404, "plan_not_found")
    assert (inactive.status_code, inactive.json()["code"]) == (422, "plan_inactive")
    assert (twice.status_code, twice.json()["code"], twice.json()["state"]) == (
        409,
        "already_member",
        "active",
    )
    assert inactive["Content-Type"] == "application/problem+json"
    assert (typed.status_code, typed.json()["errors"][0]["field"]) == (400, "trial")
    assert (extra.status_code, extra.json()["errors"][0]["field"]) == (400, "price")


def test_a_trial_then_renew_then_cancel_now(api_client, member, plan):
    started = _start(api_client, {"plan": "plus", "trial": True}).json()
    url = f"{BASE}/{started['id']}"

    renewed = _post(api_client, f"{url}/renew", {"payment_reference": "pay-2"}, "r1")
    cancelled = _post(api_client, f"{url}/cancel", {"at_period_end": False}, "c1")
    again = _post(api_client, f"{url}/renew", {"payment_reference": "pay-3"}, "r2")

    assert started["status"] == "trialing"
    assert (renewed.status_code, renewed.json()["status"]) == (200, "active")
    assert [p["kind"] for p in renewed.json()["periods"]] == ["trial", "paid"]
    assert (cancelled.status_code, cancelled.json()["status"]) == (200, "cancelled")
    assert cancelled.json()["renews_on"] is None
    assert cancelled.json()["ends_at"] == cancelled.json()["cancelled_at"]
    assert (again.status_code, again.json()["code"], again.json()["state"]) == (
        409,
        "invalid_transition",
        "cancelled",
    )


def test_refund_and_not_refundable(api_client, member, plan):
    started = _start(api_client).json()
    url = f"{BASE}/{started['id']}"

    used = _post(api_client, f"{url}/perk-usage", {"perk": "free_shipping", "order_id": "O-1"}, "u")
    repeat = _post(
        api_client, f"{url}/perk-usage", {"perk": "free_shipping", "order_id": "O-1"}, "u2"
    )
    refused = _post(api_client, f"{url}/refund", {}, "f1")

    assert (used.status_code, repeat.status_code) == (201, 200)
    assert used.json() == {
        "perk": "free_shipping",
        "order_id": "O-1",
        "period": 1,
        "used_at": used.json()["used_at"],
    }
    assert (refused.status_code, refused.json()["code"], refused.json()["reason"]) == (
        422,
        "not_refundable",
        "perk_used",
    )
    assert PerkUsage.objects.count() == 1


def test_refund_answers_the_refunded_membership(api_client, member, plan):
    started = _start(api_client).json()

    refunded = _post(api_client, f"{BASE}/{started['id']}/refund", {}, "f1")

    assert refunded.status_code == HTTPStatus.OK
    assert refunded.json()["status"] == "refunded"
    assert [(c["kind"], c["amount"]) for c in refunded.json()["charges"]] == [
        ("payment", "12.00"),
        ("refund", "-12.00"),
    ]


def test_another_members_membership_is_not_found(api_client, member, make_member, plan):
    started = _start(api_client).json()
    make_member(external_id="C-2")

    response = _post(
        api_client,
        f"/api/v1/members/C-2/memberships/{started['id']}/cancel",
        {"at_period_end": True},
        "x1",
    )

    assert (response.status_code, response.json()["code"]) == (404, "membership_not_found")
    assert Membership.objects.get().status == "active"


def test_list_and_the_member_summary(api_client, member, make_plan):
    make_plan()
    assert api_client.get(f"/api/v1/members/{member.external_id}").json()["membership"] is None
    started = _start(api_client).json()

    listed = api_client.get(BASE)
    summary = api_client.get("/api/v1/members/C-1001").json()

    assert listed.status_code == HTTPStatus.OK
    assert [m["id"] for m in listed.json()["results"]] == [started["id"]]
    assert summary["membership"] == {
        "id": started["id"],
        "plan": "plus",
        "name": "Plus",
        "status": "active",
        "current_period_end": started["current_period_end"],
        "renews_on": started["renews_on"],
        "ends_at": None,
        "grace_until": None,
        "perks": started["perks"],
    }


def test_requests_need_an_api_key(anon_client, member, plan):
    response = anon_client.get(BASE)
    assert response.status_code == HTTPStatus.UNAUTHORIZED


def test_the_summary_reads_the_membership_in_two_queries(
    api_client, member, plan, django_assert_max_num_queries
):
    _start(api_client)

    # As `tests/loyalty/test_api_members.py` (8, the membership's and the clubs' included) + the
    # plan's perks.
    with django_assert_max_num_queries(9):
        response = api_client.get("/api/v1/members/C-1001")

    assert response.json()["membership"]["perks"][0]["code"] == "free_shipping"


def test_the_list_takes_a_fixed_number_of_queries(
    api_client, member, make_plan, system_actor, django_assert_max_num_queries
):
    make_plan()
    for n in range(3):
        m = membership_start(
            member=member, plan_code="plus", payment_reference=f"p-{n}", actor=system_actor
        )
        membership_cancel(membership=m, at_period_end=False, actor=system_actor)
        memberships_lapse_and_expire(cutoff=timezone.now())

    # API key, member, memberships, perks, periods, charges, perk usages (+ their perks).
    with django_assert_max_num_queries(8):
        response = api_client.get(BASE)

    assert [m["status"] for m in response.json()["results"]] == ["expired"] * 3
