"""Clubs: joining and leaving through the API (idempotent), join rules, the summary's perks."""

from __future__ import annotations

from http import HTTPStatus

import pytest

from loyalty.services.tier_config import perk_save
from members.models import AuditEntry
from segments.models import Club, ClubMembership
from segments.services.clubs import club_save

pytestmark = pytest.mark.django_db
URL = "/api/v1/members/{}/clubs/{}"


@pytest.fixture
def wine(system_actor):
    perk = perk_save(actor=system_actor, code="tasting", name="Free tasting", kind="custom")
    return club_save(club=Club(code="wine", name="Wine lovers"), perks=[perk], actor=system_actor)


def test_put_is_idempotent_and_the_summary_lists_the_perks(api_client, member, wine):
    first = api_client.put(URL.format(member.external_id, "wine"))
    again = api_client.put(URL.format(member.external_id, "wine"))
    assert (first.status_code, again.status_code) == (HTTPStatus.OK, HTTPStatus.OK)
    assert first.json() == again.json()
    assert (first.json()["code"], first.json()["perks"][0]["code"]) == ("wine", "tasting")
    assert ClubMembership.objects.filter(member=member).count() == 1
    assert AuditEntry.objects.filter(action="club.join").count() == 1
    summary = api_client.get(f"/api/v1/members/{member.external_id}").json()
    assert [(c["code"], [p["name"] for p in c["perks"]]) for c in summary["clubs"]] == [
        ("wine", ["Free tasting"])
    ]


def test_delete_is_idempotent(api_client, member, wine):
    api_client.put(URL.format(member.external_id, "wine"))
    first = api_client.delete(URL.format(member.external_id, "wine"))
    again = api_client.delete(URL.format(member.external_id, "wine"))
    assert (first.status_code, again.status_code) == (HTTPStatus.NO_CONTENT, HTTPStatus.NO_CONTENT)
    assert not ClubMembership.objects.exists()
    assert AuditEntry.objects.filter(action="club.leave").count() == 1


def test_errors(api_client, member, wine, system_actor):
    missing = api_client.put(URL.format(member.external_id, "nope"))
    assert (missing.status_code, missing.json()["code"]) == (HTTPStatus.NOT_FOUND, "club_not_found")
    nobody = api_client.put(URL.format("C-NOPE", "wine"))
    assert nobody.json()["code"] == "member_not_found"
    club_save(
        club=Club(code="vip", name="VIP", join_rules={"all": [
            {"field": "orders", "op": "gte", "value": 10}]}),
        actor=system_actor,
    )  # fmt: skip
    refused = api_client.put(URL.format(member.external_id, "vip"))
    assert (refused.status_code, refused.json()["code"]) == (
        HTTPStatus.UNPROCESSABLE_ENTITY,
        "club_rules_not_met",
    )
    wine.is_active = False
    club_save(club=wine, actor=system_actor)
    closed = api_client.put(URL.format(member.external_id, "wine"))
    assert closed.json()["code"] == "club_closed"
