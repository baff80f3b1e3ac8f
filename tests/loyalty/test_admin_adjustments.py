"""The adjustment-request queue in the admin: Supervisors decide, four-eyes, nobody edits."""

from __future__ import annotations

from http import HTTPStatus

import pytest
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.urls import reverse

from loyalty.models import AdjustmentRequest, Posting
from loyalty.services.adjustments import adjustment_request
from members.actors import Actor
from members.roles import CUSTOMER_SERVICE, MARKETING, SUPERVISOR
from tests.loyalty.staff import client_for, staff_user


def _messages(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


@pytest.fixture
def agent(db):
    return staff_user(CUSTOMER_SERVICE, "agent")


@pytest.fixture
def held(member, agent):
    """A pending request: the agent's 1500 points, over the 1000 per-adjustment limit."""
    return adjustment_request(
        member=member, points=1500, reason="lost parcel", actor=Actor.staff(agent)
    ).request


def _url(name: str, request: AdjustmentRequest) -> str:
    return reverse(f"admin:loyalty_adjustmentrequest_{name}", args=[request.pk])


def test_the_request_list_and_page_open(admin_client, held):
    listing = admin_client.get(reverse("admin:loyalty_adjustmentrequest_changelist"))
    page = admin_client.get(_url("change", held))

    assert listing.status_code == HTTPStatus.OK
    assert page.status_code == HTTPStatus.OK
    assert b"delete_selected" not in listing.content


def test_the_list_filters_by_status(admin_client, held, member, agent):
    other = adjustment_request(
        member=member, points=2000, reason="other", actor=Actor.staff(agent)
    ).request
    supervisor = staff_user(SUPERVISOR, "super")
    client_for(supervisor).post(_url("reject", other), {"note": "duplicate"})
    url = reverse("admin:loyalty_adjustmentrequest_changelist")

    pending = admin_client.get(url, {"status__exact": "pending"})
    rejected = admin_client.get(url, {"status__exact": "rejected"})

    assert [r.pk for r in pending.context["cl"].result_list] == [held.pk]
    assert [r.pk for r in rejected.context["cl"].result_list] == [other.pk]


def test_nobody_adds_changes_or_deletes_requests(admin_client, held):
    add = admin_client.get(reverse("admin:loyalty_adjustmentrequest_add"))
    change = admin_client.post(_url("change", held), {"points": 1})
    delete = admin_client.post(_url("delete", held), {"post": "yes"})

    assert add.status_code == HTTPStatus.FORBIDDEN
    assert change.status_code == HTTPStatus.FORBIDDEN
    assert delete.status_code == HTTPStatus.FORBIDDEN
    assert AdjustmentRequest.objects.get().points == 1500


@pytest.mark.parametrize(
    ("role", "status"),
    [
        (CUSTOMER_SERVICE, HTTPStatus.OK),
        (SUPERVISOR, HTTPStatus.OK),
        (MARKETING, HTTPStatus.FORBIDDEN),
    ],
)
def test_who_sees_the_queue(held, role, status):
    client = client_for(staff_user(role, "staff"))

    assert client.get(reverse("admin:loyalty_adjustmentrequest_changelist")).status_code == status


def test_a_supervisor_sees_the_decision_buttons_and_customer_service_does_not(held):
    approve_url = _url("approve", held).encode()

    supervisor_page = client_for(staff_user(SUPERVISOR, "super")).get(_url("change", held))
    agent_page = client_for(staff_user(CUSTOMER_SERVICE, "colleague")).get(_url("change", held))

    assert approve_url in supervisor_page.content
    assert approve_url not in agent_page.content


def test_a_supervisor_approves_and_both_names_are_kept(held, member):
    supervisor = staff_user(SUPERVISOR, "super")
    client = client_for(supervisor)

    form = client.get(_url("approve", held))
    response = client.post(_url("approve", held), {"note": "carrier confirmed"})

    assert form.status_code == HTTPStatus.OK
    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"] == reverse("admin:members_member_change", args=[member.pk])
    held.refresh_from_db()
    assert held.status == "approved"
    assert (held.requested_by_label, held.decided_by_label) == ("agent", "super")
    posting = held.posting
    assert (posting.points, posting.actor_user_id) == (1500, supervisor.pk)
    assert posting.reason == f"lost parcel [request #{held.pk} by agent]"
    assert _messages(response) == [
        f"Request #{held.pk} approved: +1500 points posted to C-1001 (posting #{posting.pk}), "
        "requested by agent."
    ]


def test_a_supervisor_rejects_with_a_note(held):
    client = client_for(staff_user(SUPERVISOR, "super"))

    without_note = client.post(_url("reject", held), {"note": ""})
    response = client.post(_url("reject", held), {"note": "no such order"})

    assert without_note.status_code == HTTPStatus.OK
    assert without_note.context["form"].errors == {"note": ["This field is required."]}
    assert response.status_code == HTTPStatus.FOUND
    held.refresh_from_db()
    assert (held.status, held.decision_note) == ("rejected", "no such order")
    assert Posting.objects.count() == 0
    assert _messages(response) == [f"Request #{held.pk} rejected: nothing was posted."]


def test_customer_service_cannot_approve(held):
    client = client_for(staff_user(CUSTOMER_SERVICE, "colleague"))

    approve = client.post(_url("approve", held), {"note": ""})
    reject = client.post(_url("reject", held), {"note": "no"})

    assert approve.status_code == HTTPStatus.FORBIDDEN
    assert reject.status_code == HTTPStatus.FORBIDDEN
    held.refresh_from_db()
    assert held.status == "pending"


def test_the_requester_cannot_approve_their_own_request(held, agent):
    agent.user_permissions.add(Permission.objects.get(codename="approve_adjustment"))
    client = client_for(agent)

    response = client.post(_url("approve", held), {"note": ""})

    assert response.status_code == HTTPStatus.FOUND
    assert _messages(response) == [
        "Four eyes: someone other than the requester must decide this request. (permission_denied)"
    ]
    held.refresh_from_db()
    assert held.status == "pending"
    assert Posting.objects.count() == 0


def test_a_decided_request_is_not_decided_again(held):
    client = client_for(staff_user(SUPERVISOR, "super"))
    client.post(_url("approve", held), {"note": ""})

    again = client.post(_url("reject", held), {"note": "too late"})

    assert again.status_code == HTTPStatus.FOUND
    assert _messages(again)[-1] == f"Request #{held.pk} was already approved."
    held.refresh_from_db()
    assert held.status == "approved"
    assert Posting.objects.count() == 1


def test_open_requests_show_on_the_members_page_with_decision_links(held, member):
    client = client_for(staff_user(SUPERVISOR, "super"))

    response = client.get(reverse("admin:members_member_change", args=[member.pk]))

    panel = next(
        p for p in response.context["member_panels"] if p.title == "Open adjustment requests"
    )
    assert [r.pk for r in panel.context["requests"]] == [held.pk]
    assert panel.context["can_decide"] is True
    assert _url("approve", held).encode() in response.content


def test_a_request_names_the_member_by_external_id_and_name(admin_client, held, member):
    page = admin_client.get(_url("change", held)).content.decode()
    listing = admin_client.get(reverse("admin:loyalty_adjustmentrequest_changelist"))

    assert str(held) == f"request #{held.pk}: +1500 for C-1001 · Ada (pending)"
    assert str(held) in page
    assert f"for member {member.pk}" not in page
    assert ">C-1001 · Ada</a>" in listing.content.decode()
