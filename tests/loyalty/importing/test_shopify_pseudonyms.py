"""Shopify exports key customers by email; no email becomes a member's external id (#16).

A customer known only by their email is imported under `em-` and the keyed digest of the email
(`members.erasure.external_id_for_email`), with the email in the member's email field; the same
file imported again finds them (nothing new is written). A customer erased before stays erased:
their new orders are refused (`member_erased`), whether they were imported under the pseudonym
or, before it existed, under the email itself; their recorded orders are "already present".
"""

from __future__ import annotations

import re

from loyalty.models import Order
from loyalty.services.enrolment import program_member_enrol
from members.actors import Actor
from members.erasure import external_id_for_email, external_id_pseudonym
from members.models import Member
from members.services import member_erase
from tests.conftest import ENROLLED_AT

HEADER = (
    "Name,Email,Financial Status,Paid at,Currency,Subtotal,Shipping,Taxes,Total,"
    "Created at,Lineitem quantity,Lineitem name,Lineitem price,Lineitem sku,Billing Name,"
    "Refunded Amount,Id"
)
PLACED = "2026-05-14 11:23:45 +0100"
EMAIL = "zed@example.com"
PSEUDONYM = re.compile(r"em-[0-9a-f]{32}")


def _row(name: str, email: str, total: str, billing: str = "Zed Zorro") -> str:
    return (
        f"{name},{email},paid,{PLACED},GBP,{total},0.00,0.00,{total},{PLACED},1,Mug,{total},"
        f"MUG-1,{billing},,{name[1:]}"
    )


def _export(*rows: str) -> str:
    return "\n".join([HEADER, *rows]) + "\n"


def test_a_customer_known_by_email_gets_a_pseudonym_and_keeps_the_email(run_import, csv_file):
    path = csv_file(_export(_row("#1001", "Zed@Example.com", "30.00")))

    result = run_import(path)

    member = Member.objects.get()
    assert (result.members_created, result.orders_created) == (1, 1)
    assert PSEUDONYM.fullmatch(member.external_id)
    assert member.external_id == external_id_for_email("zed@example.com")
    assert (member.email, member.first_name, member.last_name) == (
        "zed@example.com",
        "Zed",
        "Zorro",
    )
    assert "zed" not in member.external_id


def test_the_same_export_imported_again_writes_nothing(run_import, csv_file):
    content = _export(_row("#1001", "zed@example.com", "30.00"), _row("#1002", "a@b.co", "5.00"))
    first = run_import(csv_file(content))
    members = sorted(Member.objects.values_list("external_id", "email"))

    again = run_import(csv_file(content))

    assert (first.members_created, first.orders_created) == (2, 2)
    assert (again.status, again.members_created, again.orders_created) == ("succeeded", 0, 0)
    assert again.orders_present == 2
    assert sorted(Member.objects.values_list("external_id", "email")) == members
    assert [external_id for external_id, _ in members] == sorted(
        [external_id_for_email("zed@example.com"), external_id_for_email("a@b.co")]
    )


def test_a_later_export_adds_orders_to_the_same_member(run_import, csv_file):
    run_import(csv_file(_export(_row("#1001", "zed@example.com", "30.00"))))

    result = run_import(csv_file(_export(_row("#1002", "ZED@example.com", "10.00"))))

    assert (result.members_created, result.orders_created) == (0, 1)
    member = Member.objects.get()
    assert sorted(member.orders.values_list("order_id", flat=True)) == ["#1001", "#1002"]


def test_an_erased_imported_customer_is_not_imported_again(run_import, csv_file):
    first = _row("#1001", "zed@example.com", "30.00")
    run_import(csv_file(_export(first)))
    member = Member.objects.get()
    member_erase(member=member, actor=Actor.system("tests"))

    result = run_import(
        csv_file(_export(first, _row("#1002", "zed@example.com", "10.00"))), skip_invalid=True
    )

    assert (result.members_created, result.orders_created, result.orders_present) == (0, 0, 1)
    assert [error[3] for error in result.errors] == ["member_erased"]
    assert Member.objects.get().external_id == external_id_for_email("zed@example.com")
    assert not Member.objects.filter(email="zed@example.com").exists()


def test_a_member_imported_under_their_email_before_keeps_it_and_gets_the_orders(
    run_import, csv_file
):
    # given: a member an earlier version imported under the email itself
    legacy = program_member_enrol(
        external_id="zed@example.com",
        email="zed@example.com",
        enrolled_at=ENROLLED_AT,
        actor=Actor.system("tests"),
    )
    content = _export(_row("#1001", "zed@example.com", "30.00"))
    run_import(csv_file(content))

    again = run_import(csv_file(_export(_row("#1002", "zed@example.com", "10.00"))))

    assert Member.objects.get() == legacy
    assert (again.members_created, again.orders_created) == (0, 1)
    assert set(Order.objects.values_list("member__external_id", flat=True)) == {EMAIL}
    assert run_import(csv_file(content)).orders_present == 1


def test_a_member_erased_under_their_email_is_not_imported_again_under_a_pseudonym(
    run_import, csv_file
):
    # given: a member imported under the email itself, erased (the id became its erasure
    # pseudonym), and someone else enrolled since with the same email
    system = Actor.system("tests")
    content = _export(_row("#1001", "zed@example.com", "30.00"))
    legacy = program_member_enrol(
        external_id="zed@example.com",
        email="zed@example.com",
        enrolled_at=ENROLLED_AT,
        actor=system,
    )
    run_import(csv_file(content))
    member_erase(member=legacy, actor=system)
    stranger = program_member_enrol(
        external_id="C-9", email="zed@example.com", enrolled_at=ENROLLED_AT, actor=system
    )

    result = run_import(
        csv_file(
            _export(
                _row("#1001", "zed@example.com", "30.00"), _row("#1002", "zed@example.com", "9.00")
            )
        ),
        skip_invalid=True,
    )

    # then: the recorded order is present, the new one refused; nobody new, nothing on the
    # stranger
    assert (result.members_created, result.orders_created, result.orders_present) == (0, 0, 1)
    assert [error[3] for error in result.errors] == ["member_erased"]
    assert sorted(Member.objects.values_list("external_id", flat=True)) == sorted(
        ["C-9", external_id_pseudonym("zed@example.com")]
    )
    assert not stranger.orders.exists()
