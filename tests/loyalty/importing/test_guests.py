"""The historical import stores its guest rows as guest orders (docs/import.md, "Guests"):
through the guest service, idempotent and resumable like the rest of the import, counted by the
rollups after it, and claimed by a guest who enrols later."""

from __future__ import annotations

import csv
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import pytest

from analytics.models import DailyTotals
from analytics.services.refresh import rollups_rebuild
from loyalty.importing import guests as import_guests
from loyalty.importing.profiles import import_profile_save
from loyalty.models import GuestOrder, Order, Posting
from loyalty.services.enrolment import program_member_enrol
from loyalty.services.guests import guest_key_for_email
from members.actors import Actor
from tests.loyalty.importing.conftest import days_ago
from tests.loyalty.importing.test_formats import _shopify

SAMPLE = Path(__file__).resolve().parents[3] / "loyalty/importing/samples/online_retail_2010-12.csv"
CENT = Decimal("0.01")


def _guest_totals() -> dict[str, Decimal]:
    """The sample's guest invoices (no CustomerID) and their totals, recomputed with the csv
    module, independently of the import."""
    totals: dict[str, Decimal] = defaultdict(Decimal)
    with open(SAMPLE, encoding="utf-8", newline="") as handle:
        for line in csv.DictReader(handle):
            if not line["CustomerID"]:
                totals[line["InvoiceNo"]] += Decimal(line["Quantity"]) * Decimal(line["UnitPrice"])
    return {order_id: total.quantize(CENT) for order_id, total in totals.items()}


def test_the_samples_guest_rows_become_guest_orders(run_import):
    result = run_import(SAMPLE)

    assert result.status == "succeeded"
    assert (result.guest_rows, result.guest_rows_skipped, result.guest_orders_created) == (
        2291,
        0,
        68,
    )
    assert result.run.guest_orders_created == 68
    assert result.rows_skipped == 90  # the returns of goods bought before the history only
    guests = GuestOrder.objects.all()
    assert dict(guests.values_list("order_id", "total")) == _guest_totals()
    assert set(guests.values_list("guest_key", "source", "member")) == {("", "import", None)}
    assert sum(len(g.items) for g in guests) == 2291
    assert Order.objects.filter(order_id__in=_guest_totals()).count() == 0
    # the members' side is what it was (test_formats): guests earned nothing
    assert (result.orders_created, result.members_created) == (401, 303)
    assert not Posting.objects.filter(order__order_id__in=_guest_totals()).exists()


def test_the_rollups_refreshed_after_the_import_count_the_guest_orders(run_import):
    rollups_rebuild()  # built before: the import's listener refreshes the days it touched

    run_import(SAMPLE)

    totals = DailyTotals.objects.all()
    assert sum(t.guest_orders for t in totals) == 68
    assert sum(t.guest_revenue for t in totals) == sum(_guest_totals().values())
    # no guest key: each order is a customer of its own, never a repeat
    assert sum(t.guest_buyers for t in totals) == 68
    assert sum(t.guest_repeat_buyers for t in totals) == 0


def test_importing_the_sample_again_writes_no_guest_order_twice(run_import):
    run_import(SAMPLE)

    again = run_import(SAMPLE)

    assert again.status == "succeeded"
    assert (again.guest_orders_created, again.guest_orders_present) == (0, 68)
    assert GuestOrder.objects.count() == 68


def test_a_dry_run_counts_the_guest_orders_and_writes_none(run_import):
    result = run_import(SAMPLE, dry_run=True)

    assert (result.status, result.guest_orders_created) == ("succeeded", 68)
    assert GuestOrder.objects.count() == 0


def test_an_import_killed_while_writing_guests_resumes_where_it_stopped(run_import, monkeypatch):
    # given: batches of 10 guest orders, and a crash on the fourth batch
    monkeypatch.setattr(import_guests, "BATCH", 10)
    real = import_guests.guest_orders_record_many
    calls = []

    def crash_on_the_fourth(**kwargs):
        calls.append(1)
        if len(calls) == 4:
            raise RuntimeError("killed")
        return real(**kwargs)

    monkeypatch.setattr(import_guests, "guest_orders_record_many", crash_on_the_fourth)
    failed = run_import(SAMPLE)
    assert failed.status == "failed"
    assert GuestOrder.objects.count() == 30
    monkeypatch.setattr(import_guests, "guest_orders_record_many", real)

    # when: the same import runs again
    resumed = run_import(SAMPLE)

    # then: it writes the rest, and the whole is what one run writes
    assert (resumed.status, resumed.guest_orders_created, resumed.guest_orders_present) == (
        "succeeded",
        38,
        30,
    )
    assert dict(GuestOrder.objects.values_list("order_id", "total")) == _guest_totals()


def test_a_shopify_order_without_email_is_a_guest_order(run_import, csv_file):
    created = "2026-05-14 11:23:45 +0100"
    path = csv_file(
        _shopify(
            f"#2001,,paid,{created},,,GBP,10.00,0,0,12.00,,0,{created},1,Mug,10.00,MUG,,,1",
            f"#2002,a@b.co,paid,{created},,,GBP,10.00,0,0,10.00,,0,{created},1,Mug,10.00,MUG,,,2",
            f"#2003,,voided,{created},,,GBP,10.00,0,0,10.00,,0,{created},1,Mug,10.00,MUG,,,3",
        )
    )

    result = run_import(path)

    assert (result.orders_created, result.guest_rows, result.guest_orders_created) == (1, 2, 1)
    guest = GuestOrder.objects.get()
    assert (guest.order_id, guest.total, guest.eligible_total, guest.guest_key) == (
        "#2001",
        Decimal("12.00"),
        Decimal("10.00"),
        "",
    )
    assert guest.placed_at.isoformat() == "2026-05-14T10:23:45+00:00"


def _lines_with_emails() -> None:
    import_profile_save(
        actor=Actor.system("tests"),
        name="pos-emails",
        layout="lines",
        col_order_id="Ticket",
        col_customer_id="Card",
        col_placed_at="When",
        col_quantity="Qty",
        col_unit_price="Price",
        col_sku="Sku",
        col_email="Email",
        fixed_currency="GBP",
        refund_marker="prefix",
        refund_prefix="C",
    )


def test_an_imported_guest_who_enrols_later_gets_their_orders(run_import, csv_file, system_actor):
    # given: a file whose guest rows carry an email: two tickets of Lin's, one of an unknown
    # guest, one guest return (skipped), and a member's ticket
    _lines_with_emails()
    d1, d2 = days_ago(400), days_ago(5)
    path = csv_file(
        "Ticket,Card,When,Qty,Price,Sku,Email\n"
        f"T1,,{d1},2,10.00,A,Lin@Example.com\nT1,,{d1},1,5.00,B,Lin@Example.com\n"
        f"T2,,{d2},1,40.00,A,lin@example.com\n"
        f"T3,,{d2},1,9.00,A,\n"
        f"C4,,{d2},-1,10.00,A,lin@example.com\n"
        f"T5,7,{d2},1,3.00,A,\n"
    )
    result = run_import(path, profile_name="pos-emails")
    assert (result.status, result.orders_created, result.guest_orders_created) == (
        "succeeded",
        1,
        3,
    )
    assert result.guest_rows_skipped == 1
    key = guest_key_for_email("lin@example.com")
    assert dict(GuestOrder.objects.values_list("order_id", "guest_key")) == {
        "T1": key,
        "T2": key,
        "T3": "",
    }

    # when: Lin enrols (the storefront's enrolment)
    member = program_member_enrol(actor=system_actor, external_id="L-1", email="lin@example.com")

    # then: T1 and T2 are her orders under the import's rules (T1's points have expired)
    orders = dict(Order.objects.filter(member=member).values_list("order_id", "points_base"))
    assert orders == {"guest:T1": 25, "guest:T2": 40}
    assert GuestOrder.objects.get(order_id="T3").member_id is None
    kinds = sorted(Posting.objects.filter(member=member).values_list("kind", "points"))
    assert kinds == [("earn", 25), ("earn", 40), ("expire", -25)]


@pytest.mark.parametrize("rows", ["T1,,{d},1,-5.00,A,\n"])
def test_a_guest_order_with_a_negative_total_is_an_error(run_import, csv_file, rows):
    _lines_with_emails()
    path = csv_file("Ticket,Card,When,Qty,Price,Sku,Email\n" + rows.format(d=days_ago(5)))

    result = run_import(path, profile_name="pos-emails", skip_invalid=True)

    assert [e[3] for e in result.errors] == ["negative_amount"]
    assert GuestOrder.objects.count() == 0
