"""Import edges found with real and hostile files (docs/import.md, "Line endings", "Unit prices",
"Binary floats"): old Mac line endings, unit prices with up to 4 decimals, spreadsheet float noise.
"""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from django.core.management import call_command

from loyalty.importing import values
from loyalty.importing.profiles import import_profile_save
from loyalty.models import Order, Refund
from members.actors import Actor
from tests.loyalty.importing.conftest import ORDERS_HEADER, days_ago

LINES_HEADER = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country"


def lines(*rows: str) -> str:
    return LINES_HEADER + "\n" + "\n".join(rows) + "\n"


def when(days: float = 30) -> str:
    return days_ago(days)[:19].replace("T", " ")


# --- line endings ------------------------------------------------------------------------------


def test_old_mac_line_endings_read_as_line_breaks(run_import, csv_file):
    path = csv_file(
        f"{ORDERS_HEADER}\r"
        f"O-1,C-1,a@b.co,{days_ago(30)},10.00,GBP\r"
        f"O-2,C-2,,{days_ago(30)},20.50,GBP\r"
    )

    result = run_import(path)

    assert (result.status, result.orders_created, result.errors) == ("succeeded", 2, [])
    assert dict(Order.objects.values_list("order_id", "total")) == {
        "O-1": Decimal("10.00"),
        "O-2": Decimal("20.50"),
    }


def test_a_lone_cr_in_a_file_with_lf_line_endings_is_an_error_naming_the_row(run_import, csv_file):
    path = csv_file(
        f"{ORDERS_HEADER}\n"
        f"O-1,C-1,,{days_ago(30)},10.00,GBP\n"
        f"O-2,C-2,,{days_ago(30)},20.5\r0,GBP\n"
        f"O-3,C-3,,{days_ago(30)},3.00,GBP\n"
    )

    result = run_import(path, skip_invalid=True)

    assert [(e[0], e[3]) for e in result.errors] == [(3, "bad_line_ending")]
    assert "carriage return" in result.errors[0][4]
    assert sorted(Order.objects.values_list("order_id", flat=True)) == ["O-1", "O-3"]


# --- unit prices -------------------------------------------------------------------------------


def test_unit_prices_with_four_decimals_sum_exactly_and_round_once(run_import, csv_file):
    path = csv_file(
        lines(
            f"A-1,P1,Paper clip,10,{when()},0.0125,17850.0,United Kingdom",  # 0.125
            f"A-1,P2,Lantern,1,{when()},2.55,17850.0,United Kingdom",  # 2.55 → 2.675
            f"A-2,P3,Bead,1000,{when()},0.001,17850.0,United Kingdom",  # 1.000
            f"A-3,P3,Bead,5,{when()},0.001,12583.0,France",  # 0.005 → 0.01 (half up)
            f"A-4,P3,Bead,4,{when()},0.001,12583.0,France",  # 0.004 → 0.00
        )
    )

    result = run_import(path)

    assert (result.status, result.errors) == ("succeeded", [])
    assert dict(Order.objects.values_list("order_id", "total")) == {
        "A-1": Decimal("2.68"),
        "A-2": Decimal("1.00"),
        "A-3": Decimal("0.01"),
        "A-4": Decimal("0.00"),
    }
    assert [i["unit_price"] for i in Order.objects.get(order_id="A-1").items] == ["0.0125", "2.55"]


def test_a_refund_of_lines_with_four_decimal_prices_rounds_once_too(run_import, csv_file):
    path = csv_file(
        lines(
            f"A-1,P1,Paper clip,1000,{when(40)},0.0125,17850.0,United Kingdom",  # 12.50
            f"CA-1,P1,Paper clip,-3,{when(30)},0.0125,17850.0,United Kingdom",  # 0.0375 → 0.04
        )
    )

    result = run_import(path)

    assert (result.orders_created, result.refunds_created) == (1, 1)
    assert Refund.objects.get().amount == Decimal("0.04")


def test_a_fifth_decimal_in_a_unit_price_is_an_error_naming_row_and_column(run_import, csv_file):
    path = csv_file(lines(f"A-1,P1,Clip,10,{when()},0.01255,17850.0,United Kingdom"))

    result = run_import(path)

    assert result.status == "rejected"
    assert [(e[0], e[1], e[2], e[3]) for e in result.errors] == [
        (2, "UnitPrice", "0.01255", "too_many_decimals")
    ]
    assert "at most 4" in result.errors[0][4]


def test_the_unit_price_decimals_are_configured_per_profile(run_import, csv_file):
    import_profile_save(
        actor=Actor.system("tests"),
        name="two-decimals",
        layout="lines",
        col_order_id="InvoiceNo",
        col_customer_id="CustomerID",
        col_placed_at="InvoiceDate",
        col_quantity="Quantity",
        col_unit_price="UnitPrice",
        col_sku="StockCode",
        fixed_currency="GBP",
        unit_price_decimals=2,
    )
    path = csv_file(lines(f"A-1,P1,Clip,10,{when()},0.125,17850.0,United Kingdom"))

    result = run_import(path, profile_name="two-decimals")

    assert [(e[0], e[3]) for e in result.errors] == [(2, "too_many_decimals")]
    assert "at most 2" in result.errors[0][4]


def test_money_amounts_stay_at_two_decimals(run_import, csv_file):
    path = csv_file(f"{ORDERS_HEADER}\nO-1,C-1,,{days_ago(30)},10.125,GBP\n")

    result = run_import(path)

    assert [(e[0], e[1], e[3]) for e in result.errors] == [(2, "total", "too_many_decimals")]


def test_line_totals_round_to_the_minor_unit_of_a_zero_decimal_currency():
    assert values.line_total_cents(1_234_567, "JPY") == 12_300  # 123.4567 → ¥123
    assert values.line_total_cents(1_235_000, "JPY") == 12_400  # 123.5 → ¥124 (half up)
    assert values.line_total_cents(1_234_567, "GBP") == 12_346  # 123.4567 → £123.46
    assert values.line_total_cents(-50, "GBP") == -1  # -0.005 → -0.01 (away from zero)


# --- binary floats -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "cents"),
    [
        ("9.949999999999999", 995),
        ("0.30000000000000004", None),  # a different float from 0.30: a real value
        ("9.951", None),  # a real third decimal, never rounded
        ("9.9500", None),  # the same float as 9.95, but 5 significant digits: not noise
        ("1234.5599999999999", 123456),  # '%.17g' % 1234.56
        ("1234.5600000000001", None),  # 17 digits, but another float than 1234.56
        ("19.989999999999998", 1999),
    ],
)
def test_float_noise_is_read_only_when_it_is_the_same_binary_float(text, cents):
    noise = values.NoiseCount()
    if cents is None:
        with pytest.raises(values.CellError) as refused:
            values.money_cents(text, noise=noise)
        assert (refused.value.code, noise.float_amounts) == ("too_many_decimals", 0)
    else:
        assert (values.money_cents(text, noise=noise), noise.float_amounts) == (cents, 1)


def test_float_noise_in_a_file_is_read_as_cents_and_counted(run_import, csv_file):
    rows = [f"O-{n},C-{n},,{days_ago(30)},9.949999999999999,GBP" for n in range(3)]
    rows += [f"O-{n},C-{n},,{days_ago(30)},9.95,GBP" for n in range(3, 6)]
    path = csv_file(ORDERS_HEADER + "\n" + "\n".join(rows) + "\n")

    result = run_import(path)

    assert (result.status, result.float_amounts, result.orders_created) == ("succeeded", 3, 6)
    assert set(Order.objects.values_list("total", flat=True)) == {Decimal("9.95")}
    # the fast batch path and the per-row path staged the same order for the same amount
    fingerprints = dict(Order.objects.values_list("order_id", "fingerprint"))
    assert len({fingerprints["O-0"], fingerprints["O-3"]}) == 2  # different customers
    assert Order.objects.get(order_id="O-0").points_base == 9


def test_float_noise_in_a_unit_price_is_read_at_the_profiles_decimals(run_import, csv_file):
    path = csv_file(lines(f"A-1,P1,Lantern,2,{when()},2.5499999999999998,17850.0,United Kingdom"))

    result = run_import(path)

    assert (result.float_amounts, Order.objects.get().total) == (1, Decimal("5.10"))


def test_the_command_says_how_many_amounts_were_floats(csv_file, db):
    path = csv_file(f"{ORDERS_HEADER}\nO-1,C-1,,{days_ago(30)},19.989999999999998,GBP\n")
    out = io.StringIO()

    call_command("import_orders", str(path), stdout=out)

    assert "1 amounts written as binary floats were read as cents" in out.getvalue()
    assert Order.objects.get().total == Decimal("19.99")
