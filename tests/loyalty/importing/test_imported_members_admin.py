"""Customer service and imported members: an order import brings customers without an email (or
a name); their page reads well and their contact details can still be corrected."""

from __future__ import annotations

from http import HTTPStatus

from django.urls import reverse

from members.models import AuditEntry, Member
from members.roles import CUSTOMER_SERVICE
from tests.loyalty.importing.conftest import ORDERS_HEADER, days_ago
from tests.loyalty.staff import client_for, staff_user

NO_EMAIL = f"{ORDERS_HEADER}\nO-1,17850,,{days_ago(30)},120.00,GBP\n"


def _form(**fields) -> dict:
    data = {"email": "", "first_name": "", "last_name": "", "phone": "", "birth_date": ""}
    return {**data, "reason": "", "_save": "Save", **fields}


def test_customer_service_names_an_imported_member_without_inventing_an_email(csv_file, run_import):
    assert run_import(csv_file(NO_EMAIL)).ok
    member = Member.objects.get(external_id="17850")
    assert member.email is None
    agent = client_for(staff_user(CUSTOMER_SERVICE, "agent"))
    url = reverse("admin:members_member_change", args=[member.pk])

    page = agent.get(url)
    saved = agent.post(url, _form(first_name="Ada", last_name="Lovelace", reason="Phoned in"))

    assert page.status_code == HTTPStatus.OK
    assert "17850 · None" not in page.content.decode()
    assert saved.status_code == HTTPStatus.FOUND, saved.context["adminform"].form.errors
    member.refresh_from_db()
    assert (member.first_name, member.last_name, member.email) == ("Ada", "Lovelace", None)
    entry = AuditEntry.objects.get(action="member.update", member=member)
    assert entry.changes == {"first_name": ["", "Ada"], "last_name": ["", "Lovelace"]}


def test_a_member_with_neither_name_nor_email_is_titled_by_their_id(csv_file, run_import):
    assert run_import(csv_file(NO_EMAIL)).ok

    assert str(Member.objects.get(external_id="17850")) == "17850"


def test_an_email_once_given_cannot_be_blanked_in_the_form(make_member):
    member = make_member(external_id="C-9", email="ada@example.com", first_name="Ada")
    agent = client_for(staff_user(CUSTOMER_SERVICE, "agent"))

    response = agent.post(
        reverse("admin:members_member_change", args=[member.pk]), _form(first_name="Ada")
    )

    assert response.status_code == HTTPStatus.OK
    assert response.context["adminform"].form.errors["email"] == ["This field is required."]
    member.refresh_from_db()
    assert member.email == "ada@example.com"
