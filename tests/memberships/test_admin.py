"""Paid membership in the admin: Marketing's plans, read-only memberships, a supervisor's refund."""

from __future__ import annotations

from decimal import Decimal
from http import HTTPStatus

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from members.models import AuditEntry
from members.roles import CUSTOMER_SERVICE, MARKETING, OPERATOR, SUPERVISOR
from memberships.models import Membership, MembershipCharge, Plan
from memberships.services import membership_start
from tests.loyalty.staff import client_for, staff_user

pytestmark = pytest.mark.django_db


def _messages(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


@pytest.fixture
def membership(member, plan, system_actor) -> Membership:
    return membership_start(
        member=member, plan_code="plus", payment_reference="pay-1", actor=system_actor
    )


def _plan_form(**overrides) -> dict:
    return {
        "code": "prime",
        "name": "Prime",
        "price": "79.00",
        "currency": "GBP",
        "period_months": "12",
        "trial_days": "30",
        "earn_multiplier": "1.50",
        "grace_days": "7",
        "refund_rule": "prorated",
        "refund_days": "14",
        "active": "on",
        "perks": [],
        **overrides,
    }


def test_marketing_adds_a_plan_through_the_service(shipping):
    client = client_for(staff_user(MARKETING, "marketer"))

    response = client.post(
        reverse("admin:memberships_plan_add"), _plan_form(perks=[str(shipping.pk)])
    )

    assert response.status_code == HTTPStatus.FOUND
    plan = Plan.objects.get(code="prime")
    assert (plan.price, plan.period_months, plan.earn_multiplier, plan.refund_rule) == (
        Decimal("79.00"),
        12,
        Decimal("1.50"),
        "prorated",
    )
    assert list(plan.perks.values_list("code", flat=True)) == ["free_shipping"]
    assert AuditEntry.objects.filter(action="plan.create", target_id=str(plan.pk)).count() == 1


def test_a_plan_form_names_the_bad_field(db):
    client = client_for(staff_user(MARKETING, "marketer"))

    response = client.post(reverse("admin:memberships_plan_add"), _plan_form(price="0"))

    assert response.status_code == HTTPStatus.OK
    assert "price" in response.context["adminform"].form.errors
    assert not Plan.objects.exists()


def test_marketing_makes_a_plan_inactive_and_nobody_deletes_one(plan):
    client = client_for(staff_user(MARKETING, "marketer"))
    form = _plan_form(code="plus", name="Plus", price="12.00", period_months="1")
    form.pop("active")

    changed = client.post(reverse("admin:memberships_plan_change", args=[plan.pk]), form)
    delete = client.get(reverse("admin:memberships_plan_delete", args=[plan.pk]))

    assert changed.status_code == HTTPStatus.FOUND
    assert Plan.objects.get(pk=plan.pk).active is False
    assert delete.status_code == HTTPStatus.FORBIDDEN


def test_membership_pages_open_read_only_with_the_history(membership):
    client = client_for(staff_user(CUSTOMER_SERVICE, "agent"))

    listing = client.get(reverse("admin:memberships_membership_changelist"))
    page = client.get(reverse("admin:memberships_membership_change", args=[membership.pk]))
    found = client.get(reverse("admin:memberships_membership_changelist"), {"q": "C-1001"})

    assert (listing.status_code, page.status_code) == (HTTPStatus.OK, HTTPStatus.OK)
    assert b"pay-1" in page.content  # the payment, in the charges
    assert "refund_url" not in page.context  # customer service may not refund
    assert list(found.context["cl"].result_list) == [membership]


def test_a_supervisor_refunds_with_a_reason(membership):
    client = client_for(staff_user(SUPERVISOR, "boss"))
    url = reverse("admin:memberships_membership_refund", args=[membership.pk])
    page = client.get(reverse("admin:memberships_membership_change", args=[membership.pk]))
    form = client.get(url)

    response = client.post(url, {"reason": "Charged twice", "amount": "4.00"})

    assert page.context["refund_url"] == url
    assert form.status_code == HTTPStatus.OK
    assert response.status_code == HTTPStatus.FOUND
    refund = MembershipCharge.objects.get(kind="refund")
    assert (refund.amount, refund.reason, refund.actor_label) == (
        Decimal("-4.00"),
        "Charged twice",
        "boss",
    )
    assert Membership.objects.get().status == "refunded"
    assert _messages(response) == ["Refunded 4.00 GBP; the membership has ended."]


def test_a_refund_the_service_refuses_is_a_message(membership, system_actor):
    client = client_for(staff_user(SUPERVISOR, "boss"))
    url = reverse("admin:memberships_membership_refund", args=[membership.pk])
    client.post(url, {"reason": "first"})

    response = client.post(url, {"reason": "again"})

    assert response.status_code == HTTPStatus.FOUND
    assert any("refunded" in m for m in _messages(response))
    assert MembershipCharge.objects.filter(kind="refund").count() == 1


@pytest.mark.parametrize("role", [MARKETING, CUSTOMER_SERVICE, OPERATOR])
def test_only_a_supervisor_refunds(membership, role):
    client = client_for(staff_user(role, "someone"))

    response = client.post(
        reverse("admin:memberships_membership_refund", args=[membership.pk]), {"reason": "x"}
    )

    assert response.status_code == HTTPStatus.FORBIDDEN
    assert Membership.objects.get().status == "active"


def test_nobody_edits_memberships_in_the_admin(admin_client, membership):
    add = admin_client.get(reverse("admin:memberships_membership_add"))
    change = admin_client.post(
        reverse("admin:memberships_membership_change", args=[membership.pk]), {"status": "expired"}
    )

    assert (add.status_code, change.status_code) == (HTTPStatus.FORBIDDEN, HTTPStatus.FORBIDDEN)
    assert Membership.objects.get().status == "active"


def test_the_member_page_shows_the_paid_membership(member, membership):
    client = client_for(staff_user(CUSTOMER_SERVICE, "agent"))

    response = client.get(reverse("admin:members_member_change", args=[member.pk]))

    assert response.status_code == HTTPStatus.OK
    panel = next(p for p in response.context["member_panels"] if p.title == "Paid membership")
    assert [row["membership"] for row in panel.context["rows"]] == [membership]
