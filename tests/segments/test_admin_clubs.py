"""Club members in the admin: the club list links to its members; staff add a member to a club
and take one out through the club services (the door rules apply, audited)."""

from __future__ import annotations

from http import HTTPStatus

import pytest
from django.urls import reverse

from members.models import AuditEntry
from members.roles import CUSTOMER_SERVICE, OPERATOR
from segments.models import Club, ClubMembership
from segments.services.clubs import club_join, club_save
from tests.loyalty.staff import client_for, staff_user

pytestmark = pytest.mark.django_db
ADD = "admin:segments_clubmembership_add"


@pytest.fixture
def clubs(system_actor):
    wine = club_save(club=Club(code="wine", name="Wine lovers"), actor=system_actor)
    closed = club_save(club=Club(code="old", name="Old", is_active=False), actor=system_actor)
    vip = club_save(
        club=Club(code="vip", name="VIP", join_rules={"all": [
            {"field": "points_balance", "op": "gte", "value": 1000}]}),
        actor=system_actor,
    )  # fmt: skip
    return wine, closed, vip


def test_the_club_list_links_to_its_members(clubs, make_member, system_actor, admin_client):
    wine = clubs[0]
    club_join(member=make_member(external_id="W-1"), club=wine, actor=system_actor)

    page = admin_client.get(reverse("admin:segments_club_changelist")).content.decode()
    members = admin_client.get(
        reverse("admin:segments_clubmembership_changelist"), {"club__id__exact": wine.pk}
    )

    url = reverse("admin:segments_clubmembership_changelist")
    assert f'<a href="{url}?club__id__exact={wine.pk}">1</a>' in page
    assert members.status_code == HTTPStatus.OK
    assert [m.member.external_id for m in members.context["cl"].result_list] == ["W-1"]


def test_customer_service_adds_a_member_and_takes_them_out(clubs, make_member):
    wine = clubs[0]
    member = make_member(external_id="W-2")
    client = client_for(staff_user(CUSTOMER_SERVICE, "cs"))

    added = client.post(reverse(ADD), {"club": wine.pk, "member": member.pk})

    assert added.status_code == HTTPStatus.FOUND
    membership = ClubMembership.objects.get(member=member, club=wine)
    join = AuditEntry.objects.get(action="club.join", member=member)
    assert (join.actor_label, join.actor_kind) == ("cs", "staff")

    removed = client.post(
        reverse("admin:segments_clubmembership_delete", args=[membership.pk]), {"post": "yes"}
    )

    assert removed.status_code == HTTPStatus.FOUND
    assert not ClubMembership.objects.filter(member=member).exists()
    assert AuditEntry.objects.filter(action="club.leave", member=member).count() == 1


def test_the_door_rules_are_shown_in_the_form(clubs, make_member):
    _, closed, vip = clubs
    member = make_member(external_id="W-3")
    client = client_for(staff_user(CUSTOMER_SERVICE, "cs"))

    shut = client.post(reverse(ADD), {"club": closed.pk, "member": member.pk})
    rules = client.post(reverse(ADD), {"club": vip.pk, "member": member.pk})

    assert shut.context["adminform"].form.non_field_errors() == ["This club takes no new members."]
    assert rules.context["adminform"].form.non_field_errors() == [
        "The member does not meet the club's rules."
    ]
    assert not ClubMembership.objects.exists()


def test_bulk_removal_goes_through_the_service(clubs, make_member, system_actor, admin_client):
    wine = clubs[0]
    for n in (1, 2):
        club_join(member=make_member(external_id=f"B-{n}"), club=wine, actor=system_actor)
    ids = list(ClubMembership.objects.values_list("pk", flat=True))

    response = admin_client.post(
        reverse("admin:segments_clubmembership_changelist"),
        {"action": "delete_selected", "_selected_action": ids, "post": "yes"},
    )

    assert response.status_code == HTTPStatus.FOUND
    assert not ClubMembership.objects.exists()
    assert AuditEntry.objects.filter(action="club.leave").count() == 2


def test_an_operator_cannot_add(clubs):
    client = client_for(staff_user(OPERATOR, "op"))
    assert client.get(reverse(ADD)).status_code == HTTPStatus.FORBIDDEN
