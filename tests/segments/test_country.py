"""The member's country (ISO 3166-1 alpha-2): enrolment and update (services, API, admin), the
statistics' copy, its audit, erasure (docs/segments.md, "Country")."""

from __future__ import annotations

import datetime as dt
from http import HTTPStatus

import pytest
from django.urls import reverse

from config.errors import ServiceError
from members import services as member_services
from members.countries import COUNTRY_CODES, country_code_for, country_name
from members.models import Member
from segments.models import MemberStats
from segments.selectors.audit import member_statistics_audit
from segments.services.stats import stats_refresh

pytestmark = pytest.mark.django_db


def test_the_codes_are_iso_3166_1_alpha_2():
    assert len(COUNTRY_CODES) == 249
    assert {"GB", "IE", "CN", "US", "ZA", "AQ"} <= COUNTRY_CODES
    assert not {"EU", "UN", "XK", "ZZ", "UK", "QO"} & COUNTRY_CODES


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("United Kingdom", "GB"),
        ("EIRE", "IE"),
        ("USA", "US"),
        ("RSA", "ZA"),
        ("Czech Republic", "CZ"),
        ("  united   arab emirates ", "AE"),
        ("fr", "FR"),
        ("Channel Islands", ""),
        ("European Community", ""),
        ("Unspecified", ""),
        ("", ""),
    ],
)
def test_file_names_map_to_codes(text, code):
    assert country_code_for(text) == code


def test_country_names_in_both_languages():
    assert (country_name("IE", "en"), country_name("IE", "zh-hans")) == ("Ireland", "爱尔兰")


def test_enrol_and_update_normalise_and_refuse(make_member, system_actor):
    member = make_member(country="gb")
    assert Member.objects.get(pk=member.pk).country == "GB"

    member_services.member_update(member=member, actor=system_actor, country="ie")
    assert Member.objects.get(pk=member.pk).country == "IE"

    with pytest.raises(ServiceError) as caught:
        member_services.member_update(member=member, actor=system_actor, country="UK")
    assert caught.value.code == "validation_error"
    assert [e["field"] for e in caught.value.errors] == ["country"]
    assert Member.objects.get(pk=member.pk).country == "IE"


def test_the_api_takes_and_returns_the_country(api_client):
    url = "/api/v1/members/C-77"

    created = api_client.put(url, {"email": "c77@example.com", "country": "IE"}, format="json")
    cleared = api_client.put(url, {"country": ""}, format="json")
    refused = api_client.put(url, {"country": "ie"}, format="json")

    assert (created.status_code, created.json()["country"]) == (HTTPStatus.CREATED, "IE")
    assert (cleared.status_code, cleared.json()["country"]) == (HTTPStatus.OK, "")
    assert refused.status_code == HTTPStatus.BAD_REQUEST
    assert refused.json()["code"] == "validation_error"
    assert Member.objects.get(external_id="C-77").country == ""


def test_the_admin_sets_the_country(admin_client, make_member):
    member = make_member(external_id="C-5", first_name="Ada")
    url = reverse("admin:members_member_change", args=[member.pk])
    page = admin_client.get(url)
    assert page.status_code == HTTPStatus.OK
    assert '<option value="IE">Ireland (IE)</option>' in page.content.decode()
    form = {
        "email": member.email,
        "first_name": "Ada",
        "last_name": "",
        "phone": "",
        "birth_date": "",
        "country": "IE",
        "locale": "",
        "reason": "moved",
    }

    response = admin_client.post(url, form)

    assert response.status_code == HTTPStatus.FOUND, response.content[:2000]
    assert Member.objects.get(pk=member.pk).country == "IE"


def test_the_refresh_copies_the_country_and_the_audit_checks_it(make_member, system_actor):
    gb = make_member(country="GB")
    unknown = make_member()
    now = dt.datetime.now(dt.UTC)

    stats_refresh(now=now)

    assert dict(MemberStats.objects.values_list("member_id", "country")) == {
        gb.pk: "GB",
        unknown.pk: "",
    }
    assert member_statistics_audit().mismatches == []
    MemberStats.objects.filter(member=gb).update(country="FR")
    assert member_statistics_audit().mismatches == [
        f"member {gb.pk}: country is 'FR', the member's is 'GB'"
    ]
    # A member who changed since the refresh is a day old by design, not a mismatch.
    member_services.member_update(member=gb, actor=system_actor, country="IE")
    assert member_statistics_audit().mismatches == []
    stats_refresh()
    assert MemberStats.objects.get(member=gb).country == "IE"


def test_erasure_blanks_the_country_and_its_copy(make_member, system_actor):
    member = make_member(country="GB")
    stats_refresh()

    member_services.member_erase(member=member, actor=system_actor)

    assert Member.objects.get(pk=member.pk).country == ""
    assert MemberStats.objects.get(member=member).country == ""
