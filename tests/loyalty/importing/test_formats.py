"""The three formats (orders, lines with the online-retail profile, Shopify) and staff profiles."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections import defaultdict
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from loyalty.importing import formats, staging
from loyalty.importing.earning import Earning
from loyalty.importing.formats import ParseContext, StageBuffer, parser_for
from loyalty.importing.profiles import import_profile_save, profile_get
from loyalty.importing.reader import CsvSource
from loyalty.importing.synthetic import orders_csv_write
from loyalty.models import Order, Posting, ProgramSettings, Refund
from loyalty.selectors.program import program_settings
from loyalty.services import tiers
from members.actors import Actor
from members.erasure import external_id_for_email
from members.models import Member
from tests.loyalty.importing.conftest import ORDERS_HEADER, days_ago

SAMPLE = Path(__file__).resolve().parents[3] / "loyalty/importing/samples/online_retail_2010-12.csv"


def _sample_totals() -> dict[str, Decimal]:
    """Invoice totals recomputed from the sample with the csv module, independently."""
    totals: dict[str, Decimal] = defaultdict(Decimal)
    with open(SAMPLE, encoding="utf-8", newline="") as handle:
        for line in csv.DictReader(handle):
            if line["CustomerID"] and not line["InvoiceNo"].startswith("C"):
                totals[line["InvoiceNo"]] += Decimal(line["Quantity"]) * Decimal(line["UnitPrice"])
    return totals


def test_the_online_retail_sample_imports_as_orders_refunds_and_members(run_import):
    result = run_import(SAMPLE)

    assert (result.status, result.format, result.profile) == ("succeeded", "lines", "online-retail")
    assert (result.rows_read, result.guest_rows, result.returns_before_history) == (
        10_000,
        2291,
        90,
    )
    assert (result.orders_created, result.members_created, result.refunds_created) == (401, 303, 9)
    totals = _sample_totals()
    assert dict(Order.objects.values_list("order_id", "total")) == {
        k: v.quantize(Decimal("0.01")) for k, v in totals.items()
    }
    first = Order.objects.get(order_id="536365")
    assert (first.member.external_id, first.total, first.currency) == (
        "17850",
        Decimal("139.12"),
        "GBP",
    )
    assert first.items[0] == {
        "sku": "85123A",
        "name": "WHITE HANGING HEART T-LIGHT HOLDER",
        "quantity": 6,
        "unit_price": "2.55",
    }
    assert first.source == Order.Source.IMPORT
    # Cancellation C536826 (two lines of 35004B) refunds the customer's order 536397.
    refund = Refund.objects.get(refund_id="C536826>536397")
    assert (refund.order.order_id, refund.amount) == ("536397", Decimal("23.25"))
    assert refund.order.refunded_total == Decimal("23.25")
    assert refund.points_reversed == 23  # floor(279 points × 23.25 / 279.00)


def test_an_invoice_printed_across_a_minute_is_one_order_placed_at_its_first_line(run_import):
    run_import(SAMPLE)

    order = Order.objects.get(order_id="536591")
    assert order.placed_at.isoformat() == "2010-12-01T16:57:00+00:00"
    assert len(order.items) == 40


def test_history_from_2010_has_expired_points(run_import):
    run_import(SAMPLE)

    member = Member.objects.get(external_id="17850")
    kinds = sorted(set(Posting.objects.filter(member=member).values_list("kind", flat=True)))
    assert kinds == ["earn", "expire"]
    assert member.account.available + member.account.pending == 0
    assert member.account.lifetime_earned == sum(
        o.points_base for o in Order.objects.filter(member=member)
    )


SHOPIFY_HEADER = (
    "Name,Email,Financial Status,Paid at,Fulfillment Status,Accepts Marketing,Currency,Subtotal,"
    "Shipping,Taxes,Total,Discount Code,Discount Amount,Created at,Lineitem quantity,"
    "Lineitem name,Lineitem price,Lineitem sku,Billing Name,Refunded Amount,Id"
)


def _shopify(*rows: str) -> str:
    return SHOPIFY_HEADER + "\n" + "\n".join(rows) + "\n"


def test_a_shopify_export_imports_one_order_per_name(run_import, csv_file, make_member):
    existing = make_member(external_id="SHOP-42", email="ann@example.com")
    created = "2026-05-14 11:23:45 +0100"
    path = csv_file(
        _shopify(
            f"#1001,Zed@Example.com,paid,{created},fulfilled,yes,GBP,90.00,5.00,18.00,113.00,"
            f",0.00,{created},2,Mug,30.00,MUG-1,Zed Zorro,,1001",
            "#1001,,,,,,,,,,,,,,1,Teapot,30.00,TEA-1,,,1001",
            f"#1002,zed@example.com,voided,,,,GBP,10.00,0,0,10.00,,0,{created},1,Mug,10.00,"
            "MUG-1,Zed Zorro,,1002",
            f"#1003,ann@example.com,partially_refunded,{created},,,GBP,50.00,5.00,0,55.00,,0,"
            f"{created},1,Bowl,50.00,BWL-1,Ann Other,55.00,1003",
        )
    )

    result = run_import(path)

    assert (result.status, result.format) == ("succeeded", "shopify")
    assert (result.orders_created, result.not_earning, result.members_created) == (2, 1, 1)
    zed = Order.objects.get(order_id="#1001")
    # The customer's id is their email's pseudonym (`test_shopify_pseudonyms.py`).
    assert (zed.member.external_id, zed.member.email, zed.member.first_name) == (
        external_id_for_email("zed@example.com"),
        "zed@example.com",
        "Zed",
    )
    assert (zed.total, zed.eligible_total, zed.points_base) == (
        Decimal("113.00"),
        Decimal("90.00"),
        90,
    )
    assert [item["sku"] for item in zed.items] == ["MUG-1", "TEA-1"]
    assert zed.placed_at.isoformat() == "2026-05-14T10:23:45+00:00"
    ann = Order.objects.get(order_id="#1003")
    # The existing member with that email gets the order; the refund stops at the goods.
    assert ann.member_id == existing.pk
    assert (ann.refunded_total, ann.points_reversed) == (Decimal("50.00"), 50)


def test_a_shopify_order_without_email_is_a_guest(run_import, csv_file):
    created = "2026-05-14 11:23:45 +0100"
    path = csv_file(
        _shopify(
            f"#2001,,paid,{created},,,GBP,10.00,0,0,10.00,,0,{created},1,Mug,10.00,MUG,,,1",
            f"#2002,a@b.co,paid,{created},,,GBP,10.00,0,0,10.00,,0,{created},1,Mug,10.00,MUG,,,2",
        )
    )

    result = run_import(path)

    assert (result.orders_created, result.guest_rows) == (1, 1)


def test_a_staff_profile_maps_other_column_names_and_a_date_format(run_import, csv_file):
    import_profile_save(
        actor=Actor.system("tests"),
        name="legacy-shop",
        layout="orders",
        col_order_id="Order Number",
        col_customer_id="Customer",
        col_placed_at="Date",
        date_format="%d/%m/%Y %H:%M",
        col_total="Amount",
        fixed_currency="GBP",
    )
    path = csv_file("Order Number;Customer;Date;Amount\nL-1;77;03/02/2025 14:30;12,50\n")

    by_name = run_import(path, profile_name="legacy-shop")
    detected = run_import(path)

    assert (by_name.status, by_name.profile, by_name.orders_created) == (
        "succeeded",
        "legacy-shop",
        1,
    )
    assert (detected.profile, detected.orders_present) == ("legacy-shop", 1)
    order = Order.objects.get(order_id="L-1")
    assert (order.total, order.placed_at.isoformat()) == (
        Decimal("12.50"),
        "2025-02-03T14:30:00+00:00",
    )


def test_a_lines_profile_with_negative_quantities_as_returns(run_import, csv_file):
    import_profile_save(
        actor=Actor.system("tests"),
        name="pos-lines",
        layout="lines",
        col_order_id="Ticket",
        col_customer_id="Card",
        col_placed_at="When",
        col_quantity="Qty",
        col_unit_price="Price",
        col_sku="Sku",
        fixed_currency="GBP",
        refund_marker="negative",
    )
    d1, d2 = days_ago(60), days_ago(50)
    path = csv_file(
        "Ticket,Card,When,Qty,Price,Sku\n"
        f"T1,9,{d1},2,10.00,A\nT1,9,{d1},1,5.00,B\nR1,9,{d2},-1,10.00,A\n"
    )

    result = run_import(path, profile_name="pos-lines")

    assert (result.status, result.orders_created, result.refunds_created) == ("succeeded", 1, 1)
    order = Order.objects.get(order_id="T1")
    assert (order.total, order.refunded_total, order.points_base, order.points_reversed) == (
        Decimal("25.00"),
        Decimal("10.00"),
        25,
        10,
    )


def test_a_profile_needs_the_columns_its_layout_requires(db):
    with pytest.raises(ValidationError) as excinfo:
        import_profile_save(
            actor=Actor.system("tests"),
            name="orders",
            layout="orders",
            col_order_id="a",
            col_customer_id="b",
            col_placed_at="c",
        )

    assert set(excinfo.value.message_dict) == {"name", "fixed_currency", "col_total"}


def test_an_unknown_profile_is_refused_naming_the_known_ones(run_import, csv_file):
    result = run_import(
        csv_file(f"{ORDERS_HEADER}\nO-1,C-1,a@b.co,{days_ago(3)},1,GBP\n"), profile_name="nope"
    )

    assert result.status == "failed"
    assert result.message == "No import profile named 'nope'. Known: online-retail, orders."


def test_an_unrecognised_header_is_refused(run_import, csv_file):
    result = run_import(csv_file("a,b,c\n1,2,3\n"))

    assert result.status == "failed"
    assert result.message.startswith("Unrecognised columns (a, b, c).")


def test_a_forced_format_names_its_missing_columns(run_import, csv_file):
    result = run_import(
        csv_file(_shopify("#1,a@b.co,paid,,,,GBP,1,0,0,1,,0,,1,x,1,x,,,1")), fmt="orders"
    )

    assert result.status == "failed"
    assert result.message.startswith(
        "Required columns missing: order_id, customer_id, placed_at (the header has: Name, "
        "Email, Financial Status,"
    )


def test_returns_adding_up_to_more_than_the_order_are_rejected(run_import, csv_file):
    header = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country"
    d1, d2 = days_ago(60)[:19].replace("T", " "), days_ago(50)[:19].replace("T", " ")
    path = csv_file(
        f"{header}\n"
        f"100,A,Mug,2,{d1},5.00,17850.0,United Kingdom\n"
        f"C101,A,Mug,-3,{d2},5.00,17850.0,United Kingdom\n"
    )

    result = run_import(path)

    assert result.status == "rejected"
    assert result.errors == [
        (
            3,
            "Quantity",
            "-3",
            "refund_exceeds_order",
            "row 3: the returns of order 100 add up to 15.00, more than the order's total 10.00",
        )
    ]
    assert Order.objects.count() == 0


class _Captured(StageBuffer):
    """Stage rows in memory: what each path of the orders parser stages, compared."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[tuple[str, tuple]] = []

    def add(self, table: str, row: tuple) -> None:
        self.rows.append((table, row))

    def add_many(self, table: str, rows: list[tuple]) -> None:
        self.rows.extend((table, row) for row in rows)


def _orders_parser(path, stage, now=None, rates=None):
    settings = program_settings()
    now = now or timezone.now()
    rates = rates or {settings.currency: Decimal("1")}
    earning = Earning(
        settings=settings, rates=rates, now=now, tier=tiers.tier_for_order(member_id=0)
    )
    source = CsvSource(path).open()
    ctx = ParseContext(
        stage=stage,
        program_currency=settings.currency,
        accepted_currencies=set(rates),
        now=now,
        earning=earning,
    )
    return source, parser_for("orders", ctx, source.header, profile_get("orders"))


def test_the_orders_fast_path_stages_what_the_checked_path_stages(db, tmp_path, csv_file):
    """Good rows take `_feed_fast` (cached cells, memoised rules); every row can also be read by
    `_feed_checked`: both must stage exactly the same rows, refunds included."""
    path = orders_csv_write(tmp_path / "orders.csv", orders=600, seed=7, currency="GBP")
    fast_stage, checked_stage = _Captured(), _Captured()
    source, fast = _orders_parser(path, fast_stage)
    _, checked = _orders_parser(path, checked_stage)
    for record in source.records():
        assert fast._feed_fast(record)
        checked._feed_checked(record)

    assert fast_stage.rows == checked_stage.rows
    tables = [table for table, _ in fast_stage.rows]
    assert tables.count("imp_orders") == 600
    assert tables.count("imp_refunds") > 10  # some orders are refunded
    assert fast_stage.error_count == checked_stage.error_count == 0


def _moment_text(moment, form: str) -> str:
    utc = moment.astimezone(dt.UTC)
    return {
        "z": utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "offset0": utc.strftime("%Y-%m-%dT%H:%M:%S+00:00"),
        "space": utc.strftime("%Y-%m-%d %H:%M:%SZ"),
        "fraction": utc.strftime("%Y-%m-%dT%H:%M:%S.250000Z"),
        "paris": moment.astimezone(ZoneInfo("Europe/Paris")).isoformat(),
        "naive": moment.astimezone(timezone.get_current_timezone()).strftime("%Y-%m-%d %H:%M:%S"),
        "date": moment.astimezone(timezone.get_current_timezone()).strftime("%Y-%m-%d"),
    }[form]


@pytest.mark.parametrize(("pending_days", "lifetime_days"), [(None, None), (0, 0), (30, 1)])
def test_the_fast_path_stages_every_form_of_date_as_the_checked_path_does(
    db, csv_file, pending_days, lifetime_days
):
    """`_feed_fast` stages dates written in UTC to the second from their text, shifted by the
    day (`_utc_day`); every other form through `stage_order`. Dates around the moment points
    become available or expire, in every form, both paths: the same staged rows."""
    if pending_days is not None:
        ProgramSettings.objects.filter(pk=1).update(
            pending_days=pending_days, points_lifetime_days=lifetime_days
        )
    settings = program_settings()
    now = timezone.now().replace(microsecond=0)
    pending = dt.timedelta(days=settings.pending_days)
    lifetime = dt.timedelta(days=settings.points_lifetime_days)
    moments = [now - dt.timedelta(days=400, hours=5)]
    for edge in (pending, pending + lifetime):
        for seconds in (-1, 0, 1, 3600, -86_400):
            moment = now - edge + dt.timedelta(seconds=seconds)
            if moment < now - dt.timedelta(seconds=1):  # history is in the past
                moments.append(moment)
    forms = ("z", "offset0", "space", "fraction", "paris", "naive", "date")
    amounts = ("12.30", "007.50", "0.05", "12.3", "12", "9999999999.99")
    lines = [ORDERS_HEADER + ",eligible_total,refunded_total,first_name,last_name"]
    n = 0
    for moment in moments:
        for form in forms:
            n += 1
            total = amounts[n % len(amounts)]
            eligible = "0.04" if n % 3 == 0 else ""
            refunded = "0.01" if n % 4 == 0 else ""
            lines.append(
                f"O{n},C{n % 5},c{n % 5}@example.com,{_moment_text(moment, form)},{total},GBP,"
                f"{eligible},{refunded},Ada,Lovelace"
            )
    path = csv_file("\n".join(lines) + "\n")
    fast_stage, checked_stage = _Captured(), _Captured()
    parsed_at = timezone.now()  # one `now` for both: a date can become available in between
    source, fast = _orders_parser(path, fast_stage, parsed_at)
    _, checked = _orders_parser(path, checked_stage, parsed_at)
    for record in source.records():
        assert fast._feed_fast(record), record.fields
        checked._feed_checked(record)

    assert fast._days  # some dates were staged from their text
    assert len(fast_stage.rows) == len(checked_stage.rows) > n
    for got, expected in zip(fast_stage.rows, checked_stage.rows, strict=True):
        assert got == expected
    assert fast_stage.error_count == checked_stage.error_count == 0


def test_a_row_with_a_problem_leaves_the_fast_path_and_is_reported(db, csv_file):
    path = csv_file(
        "order_id,customer_id,email,placed_at,total,currency,eligible_total,refunded_total,"
        "first_name,last_name\n"
        f"A1,C1,a@example.com,{days_ago(3)},10.00,GBP,12.00,,Ada,Lovelace\n"
        + f"A2,C1,a@example.com,{days_ago(3)},10.001,GBP,,,Ada,Lovelace\n"
        + f"A3,C1,a@example.com,{days_ago(3)},10.00,GBP,,11.00,Ada,Lovelace\n"
        + f"A4,C1,a@example.com,{days_ago(3)},10.00,GBP,,,Ada,Lovelace\n"
    )
    stage = _Captured()
    source, parser = _orders_parser(path, stage)
    fast = []
    for record in source.records():
        fast.append(parser._feed_fast(record))
        if not fast[-1]:
            parser._feed_checked(record)

    assert fast == [False, False, False, True]
    errors = [row[4] for table, row in stage.rows if table == "imp_errors"]
    assert errors == ["eligible_exceeds_total", "too_many_decimals", "refund_exceeds_order"]
    assert [row[1] for table, row in stage.rows if table == "imp_orders"] == ["A4"]


def _staged_tables(path, *, batches: bool, now, rates=None) -> dict:
    """What the orders parser stages for a file, read back from the staging tables: in batches
    (`feed`, `finish`) or every row through the per-row paths (`_feed_row`); with the number of
    rows that took the per-row paths."""
    staging.tables_create()
    stage = StageBuffer()
    source, parser = _orders_parser(path, stage, now, rates)
    per_row = parser._feed_row
    calls = []
    parser._feed_row = lambda record: (calls.append(record.row), per_row(record))
    for record in source.records():
        if batches:
            parser.feed(record)
        else:
            parser._feed_row(record)
    parser.finish()
    stage.flush()
    tables = {
        name: staging.rows(f"SELECT * FROM {name} ORDER BY row_no, {order}")
        for name, order in (
            ("imp_orders", "order_id"),
            ("imp_refunds", "refund_id"),
            ("imp_errors", "seq"),
        )
    }
    staging.tables_drop()
    return tables, len(calls)


def _mixed_orders_file(csv_file, now) -> Path:
    """Rows in the usual forms around rows in every other form and with every problem, so that
    batches mix them (and, in batches of one, some batches have no usual row at all)."""
    z = (now - dt.timedelta(days=3)).astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    today = now.astimezone(dt.UTC).replace(hour=0, minute=0, second=1)
    odd = [
        # (order id, customer, email, placed_at, total, currency, eligible, refunded, first, last)
        ("", "C1", "a@example.com", z, "10.00", "GBP", "", "", "Ada", "L"),
        ("X" * 65, "C1", "a@example.com", z, "10.00", "GBP", "", "", "Ada", "L"),
        (" P1 ", "C1", "a@example.com", z, "10.00", "GBP", "", "", "Ada", "L"),
        ("P1b", " C1 ", "a@example.com", z, "10.00", "GBP", "", "", "Ada", "L"),
        ("P1c", "C1", " A@Example.COM ", z, "10.00", "GBP", "", "", "Ada", "L"),
        ("P1d", "C1", "a@example.com", z, "10.00", " gbp ", "", "", "Ada", "L"),
        ("P1e", "C1", "a@example.com", z, "10.00", "GBP", "", "", " Ada ", " L "),
        ("P2", "17850.0", "", z, "7.50", "GBP", "", "", "Ada", "L"),
        ("P2b", "C1", "", z, "007.50", "GBP", "", "", "Ada", "L"),
        ("P2c", "C1", "", z, "7.50", "GBP", " ", "", "Ada", "L"),
        ("P2d", "C1", "", z, "7.50", "GBP", "", " ", "Ada", "L"),
        ("P3", "", "a@example.com", z, "10.00", "GBP", "", "", "Ada", "L"),
        ("P4", "C" * 65, "a@example.com", z, "10.00", "GBP", "", "", "Ada", "L"),
        ("P5", 'C"q', "a@example.com", z, "10.00", "GBP", "", "", "Ada", "L"),
        ("P6", "C\\b", "a@example.com", z, "10.00", "GBP", "", "", "Ada", "L"),
        ("P6b", "C1", "not-an-email", z, "10.00", "GBP", "", "", "Ada", "L"),
        ("P7", "Cé", "a@example.com", z, "10.00", "GBP", "", "", "Ada", "L"),
        ("P7b", "C1", "é@example.com", z, "10.00", "GBP", "", "", "Ada", "L"),
        ("P7c", "C 1", "a@example.com", z, "10.00", "GBP", "", "", "Ada", "L"),
        ("P8", "C1", "a@example.com", z, "10.00", "XXX", "", "", "Ada", "L"),
        ("P9", "C1", "a@example.com", z, "10.00", "JPY", "", "", "Ada", "L"),
        ("P10", "C1", "a@example.com", z, "12.3", "GBP", "", "", "Ada", "L"),
        ("P11", "C1", "a@example.com", z, "10.001", "GBP", "", "", "Ada", "L"),
        ("P12", "C1", "a@example.com", z, "-5.00", "GBP", "", "", "Ada", "L"),
        ("P13", "C1", "a@example.com", z, "abc", "GBP", "", "", "Ada", "L"),
        ("P14", "C1", "a@example.com", z, "", "GBP", "", "", "Ada", "L"),
        ("P15", "C1", "a@example.com", z, "10.00", "GBP", "10.01", "", "Ada", "L"),
        ("P16", "C1", "a@example.com", z, "10.00", "GBP", "8.00", "2.00", "Ada", "L"),
        ("P17", "C1", "a@example.com", z, "10.00", "GBP", "8.00", "9.00", "Ada", "L"),
        ("P18", "C1", "a@example.com", z, "10.00", "GBP", "", "", "A" * 151, "L"),
        ("P19", "C1", "a@example.com", z, "10.00", "GBP", "", "", "Ada", "Love\nlace"),
        ("P20", "C1", "a@example.com", z[:-1] + "+00:00", "10.00", "GBP", "", "", "Ada", "L"),
        ("P21", "C1", "a@example.com", z.replace("T", " "), "10.00", "GBP", "", "", "Ada", "L"),
        ("P22", "C1", "a@example.com", z[:-1] + ".5Z", "10.00", "GBP", "", "", "Ada", "L"),
        ("P23", "C1", "a@example.com", z[:-1] + "+02:00", "10.00", "GBP", "", "", "Ada", "L"),
        ("P24", "C1", "a@example.com", z[:-1], "10.00", "GBP", "", "", "Ada", "L"),
        ("P25", "C1", "a@example.com", z[:10], "10.00", "GBP", "", "", "Ada", "L"),
        ("P26", "C1", "a@example.com", "2024-02-30T10:00:00Z", "1.00", "GBP", "", "", "A", "L"),
        ("P27", "C1", "a@example.com", "1969-12-31T23:59:59Z", "1.00", "GBP", "", "", "A", "L"),
        ("P28", "C1", "a@example.com", "2999-01-01T00:00:00Z", "1.00", "GBP", "", "", "A", "L"),
        (
            "P29",
            "C1",
            "a@example.com",
            f"{today:%Y-%m-%dT%H:%M:%SZ}",
            "1.00",
            "GBP",
            "",
            "",
            "A",
            "L",
        ),
        ("P30", "C1", "a@example.com", "2024-13-01T10:00:00Z", "1.00", "GBP", "", "", "A", "L"),
        ("P31", "C1", "a@example.com", z, "10.00", "EUR", "9.99", "", "Ada", "L"),
    ]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    header = "eligible_total,refunded_total,first_name,last_name"
    writer.writerow(f"{ORDERS_HEADER},{header}".split(","))
    n = 0
    for i, cells in enumerate(odd):
        for _ in range(3):  # usual rows between the others, some with an eligible total
            n += 1
            moment = (now - dt.timedelta(days=n * 37 % 900, seconds=n * 7919)).astimezone(dt.UTC)
            writer.writerow(
                (
                    f"G{n}",
                    f"C{n % 6}",
                    f"c{n % 6}@example.com",
                    f"{moment:%Y-%m-%dT%H:%M:%SZ}",
                    f"{n * 3}.{n % 100:02d}",
                    "EUR" if n % 5 == 0 else "GBP",
                    f"{n}.50" if n % 4 == 0 else "",
                    "",
                    f"Ada{n % 3}",
                    "Lovelace",
                )
            )
        writer.writerow(cells)
        if i % 7 == 0:
            out.write("\n")  # a blank line is not a row
    out.write("R1,C1,a@example.com\n")  # ragged
    out.write(f"N1,C1\x00,a@example.com,{z},1.00,GBP,,,Ada,L\n")  # a NUL byte
    out.write(f'Q1,C1,a@example.com,{z},1.00,GBP,,,"Ada",L\n')
    return csv_file(out.getvalue())


@pytest.mark.parametrize("batch_rows", [1, 4, 7, 5_000])
def test_batches_stage_and_report_exactly_what_the_row_paths_do(
    db, csv_file, monkeypatch, batch_rows
):
    """`_feed_batch` reads a batch column by column; any row in another form, or with any
    problem, goes through the per-row paths in its place. Usual rows next to every kind of
    odd or bad row, batches of several sizes (batches of only odd rows included), two
    currencies: the staged orders, refunds and errors (row, column, value, code, message) are
    the same as when every row takes the per-row paths."""
    monkeypatch.setattr(formats, "BATCH_ROWS", batch_rows)
    now = timezone.now()
    path = _mixed_orders_file(csv_file, now)
    rates = {"GBP": Decimal("1"), "EUR": Decimal("0.85")}

    batched, per_row = _staged_tables(path, batches=True, now=now, rates=rates)
    row_by_row, everything = _staged_tables(path, batches=False, now=now, rates=rates)

    assert per_row < everything / 2  # the usual rows went in batches
    assert batched == row_by_row
    staged = {row[1] for row in batched["imp_orders"]}
    assert {"G1", "G4", "G5", "P1", "P2", "P2b", "P7c", "P16", "P20", "P29", "P31", "Q1"} <= staged
    assert {row[4] for row in batched["imp_errors"]} == {
        "required",
        "too_long",
        "invalid_email",
        "unknown_currency",
        "currency_mismatch",
        "too_many_decimals",
        "negative_amount",
        "not_a_number",
        "eligible_exceeds_total",
        "refund_exceeds_order",
        "invalid_date",
        "date_too_old",
        "future_date",
        "ragged_row",
        "nul_byte",
    }
    assert len(batched["imp_refunds"]) == 1


def test_batches_stage_what_the_row_paths_stage_for_a_generated_history(db, tmp_path):
    path = orders_csv_write(tmp_path / "orders.csv", orders=3_000, seed=11, currency="GBP")
    now = timezone.now()

    batched, per_row = _staged_tables(path, batches=True, now=now)
    row_by_row, _ = _staged_tables(path, batches=False, now=now)

    # Only the orders of today (checked against `now` to the second) went one by one; refunded
    # orders too were staged from the batches (`_stage_refunded`).
    today = now.astimezone(dt.UTC).date().isoformat()
    assert per_row == len([row for row in batched["imp_orders"] if row[6].startswith(today)])
    assert len(batched["imp_refunds"]) > 100
    assert batched == row_by_row
    assert len(batched["imp_orders"]) == 3_000
    assert batched["imp_errors"] == []
