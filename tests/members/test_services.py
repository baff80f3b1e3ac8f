from http import HTTPStatus

import pytest

from config.errors import ServiceError
from members import services
from members.models import AuditEntry, Member


def test_enrol_stores_lowercased_email_and_a_referral_code(make_member):
    member = make_member(external_id="C-1", email="Ada@Example.COM")

    assert member.email == "ada@example.com"
    assert len(member.referral_code) == 8
    assert set(member.referral_code) <= set(services.REFERRAL_ALPHABET)
    assert member.status == Member.Status.ACTIVE


def test_enrol_refuses_an_email_taken_in_another_case(make_member):
    make_member(email="ada@example.com")

    with pytest.raises(ServiceError) as excinfo:
        make_member(email="ADA@example.com")

    assert excinfo.value.code == "email_taken"
    assert excinfo.value.status == HTTPStatus.CONFLICT


def test_erase_blanks_personal_data_and_keeps_the_row(member, system_actor):
    services.member_erase(member=member, actor=system_actor)

    member.refresh_from_db()
    assert (member.email, member.first_name, member.phone, member.status) == (
        None,
        "",
        "",
        "erased",
    )
    assert AuditEntry.objects.filter(member=member, action="member.erase").count() == 1
