"""Bad files: each gets a clear message naming the row, column and value, and nothing is written.

The list follows issue 6 ("Bad input"); a few more cases the parsers guard against come after it.
"""

from __future__ import annotations

import csv

import pytest

from loyalty.models import ImportRun, Order, Posting
from members.models import Member
from tests.loyalty.importing.conftest import ORDERS_HEADER, days_ago

D1, D2 = days_ago(40), days_ago(30)
GOOD = f"O-1,C-1,ada@example.com,{D1},100.00,GBP\r\nO-2,C-2,bob@example.com,{D2},50.00,GBP\r\n"


def nothing_written() -> bool:
    return (Order.objects.count(), Member.objects.count(), Posting.objects.count()) == (0, 0, 0)


def first_error(result) -> tuple:
    """(row, column, value, code) of the first error."""
    return result.errors[0][:4]


# --- refused files: the whole file, before any row ---------------------------------------------


@pytest.mark.parametrize(
    ("content", "code", "says"),
    [
        pytest.param(b"", "empty_file", "The file is empty.", id="empty file"),
        pytest.param(b"\r\n\r\n  \r\n", "empty_file", "The file is empty", id="only blank lines"),
        pytest.param(
            (ORDERS_HEADER + "\r\n").encode(),
            "no_rows",
            "The file has a header but no rows",
            id="header only",
        ),
        pytest.param(
            (ORDERS_HEADER + "\r\n\r\n\r\n").encode(),
            "no_rows",
            "The file has a header but no rows",
            id="header and blank lines",
        ),
        pytest.param(
            (ORDERS_HEADER + f"\r\nO-1,C-1,zoe@example.com,{D1},1.00,GBP\r\n").encode("utf-16"),
            "unsupported_encoding",
            "UTF-16",
            id="utf-16 with BOM",
        ),
        pytest.param(
            (ORDERS_HEADER + f"\r\nO-1,C-1,zoe@example.com,{D1},1.00,GBP\r\n").encode("utf-16-le"),
            "unsupported_encoding",
            "UTF-16",
            id="utf-16 without BOM",
        ),
        pytest.param(
            b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00" + bytes(range(256)) * 4,
            "not_csv",
            "ZIP archive (an Excel .xlsx workbook is one)",
            id="xlsx saved as .csv",
        ),
        pytest.param(
            bytes((i * 37 + 11) % 256 for i in range(4096)),
            "not_csv",
            "binary",
            id="binary file named .csv",
        ),
        pytest.param(
            b"order_id customer_id email placed_at total currency\r\nO-1 C-1 a 2024 1 GBP\r\n",
            "no_delimiter",
            "no comma, semicolon or tab",
            id="no delimiter",
        ),
        pytest.param(
            f"order_id,customer_id,email,placed_at,currency\r\nO-1,C-1,a@b.co,{D1},GBP\r\n".encode(),
            "missing_column",
            "Required column missing: total",
            id="missing required column",
        ),
        pytest.param(
            (ORDERS_HEADER + ",total\r\n" + f"O-1,C-1,a@b.co,{D1},1.00,GBP,2.00\r\n").encode(),
            "duplicate_column",
            "Column 'total' appears more than once in the header (columns 5 and 7)",
            id="duplicated column",
        ),
        pytest.param(
            (
                ORDERS_HEADER
                + f'\r\nO-1,C-1,a@b.co,{D1},1.00,GBP\r\nO-2,"C-2,b@b.co,{D2},2,GBP\r\n'
            ).encode(),
            "unterminated_quote",
            "Row 3: a quote opened in this row is never closed",
            id="unterminated quote",
        ),
    ],
)
def test_a_file_that_cannot_be_read_is_refused_with_a_clear_message(
    run_import, csv_file, content, code, says
):
    result = run_import(csv_file(content))

    assert result.status == ImportRun.Status.FAILED
    assert says in result.message
    assert result.run.status == ImportRun.Status.FAILED
    assert result.run.message == result.message
    assert nothing_written()
    del code  # the code is for the reader of the test; the message is what the operator sees


def test_a_windows_1252_file_is_refused_naming_the_line_and_the_character(run_import, csv_file):
    content = (ORDERS_HEADER + "\r\n" + GOOD + f"O-3,C-3,x@example.com,{D2},1.00,GBP\r\n").replace(
        "O-3,C-3,x", "O-3,C-3,jos\u00e9"
    )
    result = run_import(csv_file(content.encode("cp1252")))

    assert result.status == ImportRun.Status.FAILED
    assert result.message.startswith(
        "The file is not UTF-8: line 4 contains the byte 0xE9, which is 'é' in Windows-1252"
    )
    assert nothing_written()


# --- accepted variations -----------------------------------------------------------------------


def test_a_utf8_bom_is_accepted(run_import, csv_file):
    result = run_import(csv_file(b"\xef\xbb\xbf" + (ORDERS_HEADER + "\r\n" + GOOD).encode()))

    assert (result.status, result.orders_created, result.rows_read) == ("succeeded", 2, 2)


def test_semicolons_are_detected_with_decimal_commas(run_import, csv_file):
    content = ORDERS_HEADER.replace(",", ";") + "\n" + f"O-1;C-1;a@b.co;{D1};100,50;GBP\n"
    result = run_import(csv_file(content))

    assert (result.status, result.delimiter, result.orders_created) == ("succeeded", "semicolon", 1)
    assert str(Order.objects.get().total) == "100.50"


def test_tabs_are_detected(run_import, csv_file):
    content = ORDERS_HEADER.replace(",", "\t") + "\n" + f"O-1\tC-1\ta@b.co\t{D1}\t100.50\tGBP\n"
    result = run_import(csv_file(content))

    assert (result.status, result.delimiter, result.orders_created) == ("succeeded", "tab", 1)


def test_blank_trailing_lines_are_not_rows(run_import, csv_file):
    result = run_import(csv_file(ORDERS_HEADER + "\r\n" + GOOD + "\r\n\r\n,,,,,\r\n   \r\n"))

    assert (result.status, result.rows_read, result.orders_created) == ("succeeded", 2, 2)


def test_a_customer_id_written_as_a_float_is_the_integer(run_import, csv_file):
    result = run_import(csv_file(f"{ORDERS_HEADER}\nO-1,17850.0,a@b.co,{D1},10.00,GBP\n"))

    assert result.status == "succeeded"
    assert list(Member.objects.values_list("external_id", flat=True)) == ["17850"]


# --- bad rows: listed with row, column and value; nothing written -------------------------------


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        pytest.param(
            f"O-3,C-3,c@b.co,{D1},100.00",
            (4, "", "", "ragged_row", "row 4: has 5 fields; the header has 6"),
            id="ragged row",
        ),
        pytest.param(
            "O-3,C-3,c@b.co,2024-13-45,100.00,GBP",
            (
                4,
                "placed_at",
                "2024-13-45",
                "invalid_date",
                "row 4, column 'placed_at': '2024-13-45' is not a date in the expected form "
                "(ISO 8601, e.g. 2024-05-01 or 2024-05-01 14:30:00 or 2024-05-01T14:30:00+01:00)",
            ),
            id="unparseable date",
        ),
        pytest.param(
            "O-3,C-3,c@b.co,2999-01-01,100.00,GBP",
            (
                4,
                "placed_at",
                "2999-01-01",
                "future_date",
                "row 4, column 'placed_at': '2999-01-01' is in the future; history cannot be",
            ),
            id="date in the future",
        ),
        pytest.param(
            f"O-3,C-3,c@b.co,{D1},-5.00,GBP",
            (
                4,
                "total",
                "-5.00",
                "negative_amount",
                "row 4, column 'total': '-5.00' is negative; amounts here cannot be negative",
            ),
            id="negative total",
        ),
        pytest.param(
            f"O-3,C-3,c@b.co,{D1},£12,GBP",
            (
                4,
                "total",
                "£12",
                "not_a_number",
                "row 4, column 'total': '£12' is not an amount (digits with an optional decimal "
                "point, e.g. 12.50; no currency signs or thousands separators)",
            ),
            id="non-numeric total",
        ),
        pytest.param(
            f"O-3,C-3,c@b.co,{D1},12.505,GBP",
            (
                4,
                "total",
                "12.505",
                "too_many_decimals",
                "row 4, column 'total': '12.505' has 3 decimals; amounts have at most 2 "
                "(e.g. 12.50)",
            ),
            id="amount with three decimals",
        ),
        pytest.param(
            f"O-3,C-3,c@b.co,{D1},12.50,XYZ",
            (
                4,
                "currency",
                "XYZ",
                "unknown_currency",
                "row 4, column 'currency': 'XYZ' is not an ISO 4217 currency code (e.g. GBP, EUR)",
            ),
            id="unknown currency",
        ),
        pytest.param(
            f"O-3,C-3,c@b.co,{D1},12.50,EUR",
            (
                4,
                "currency",
                "EUR",
                "currency_mismatch",
                "row 4, column 'currency': 'EUR' is not accepted: the program's currency is GBP "
                "and no exchange rate is configured for EUR",
            ),
            id="currency without a rate",
        ),
        pytest.param(
            f"O-3,C-3,c@b.co,{D1},12.50\x00,GBP",
            (4, "total", "12.50", "nul_byte", "row 4: contains a NUL byte"),
            id="NUL byte",
        ),
        pytest.param(
            f"O-3,C-3,c@b.co,{D1},12.50,GBP".replace("O-3,C-3", "O-3,C-3" + "x" * 65),
            (
                4,
                "customer_id",
                "C-3" + "x" * 65,
                "too_long",
                "row 4, column 'customer_id': '" + ("C-3" + "x" * 65)[:57] + "...' is 68 "
                "characters long; at most 64",
            ),
            id="customer id too long",
        ),
        pytest.param(
            f"O-3,C-3,not-an-email,{D1},12.50,GBP",
            (
                4,
                "email",
                "not-an-email",
                "invalid_email",
                "row 4, column 'email': 'not-an-email' is not a valid email address",
            ),
            id="invalid email",
        ),
        pytest.param(
            f'O-3,C-3,c@b.co,{D1},"12"x,GBP',
            (4, "", "", "bad_quoting", "row 4: bad quoting: ',' expected after '\"'"),
            id="bad quoting",
        ),
        pytest.param(
            f",C-3,c@b.co,{D1},12.50,GBP",
            (
                4,
                "order_id",
                "",
                "required",
                "row 4, column 'order_id': (empty) is empty; an order id is required",
            ),
            id="missing order id",
        ),
    ],
)
def test_a_bad_row_is_listed_and_nothing_is_written(run_import, csv_file, row, expected):
    path = csv_file(f"{ORDERS_HEADER}\r\n{GOOD}{row}\r\n")

    result = run_import(path)

    assert result.status == ImportRun.Status.REJECTED
    assert result.errors == [expected]
    assert (result.rows_read, result.rows_rejected) == (3, 1)
    assert result.message == (
        "1 row(s) have errors; nothing was imported. Fix them, or import the good rows with "
        "--skip-invalid."
    )
    assert nothing_written()


def test_a_one_megabyte_field_is_a_bad_row_not_a_crash(run_import, csv_file):
    huge = "A" * (1024 * 1024)
    path = csv_file(f"{ORDERS_HEADER},first_name\r\nO-1,C-1,a@b.co,{D1},1.00,GBP,{huge}\r\n")

    result = run_import(path)

    assert result.status == ImportRun.Status.REJECTED
    row, column, value, code, message = result.errors[0]
    assert (row, column, code) == (2, "first_name", "too_long")
    assert value == "A" * 200 + "…"
    assert message.endswith("is 1,048,576 characters long; at most 150")
    assert nothing_written()


def test_the_same_order_id_twice_with_different_content_rejects_both_rows(run_import, csv_file):
    path = csv_file(f"{ORDERS_HEADER}\n{GOOD}O-1,C-1,ada@example.com,{D1},101.00,GBP\n")

    result = run_import(path)

    assert result.status == ImportRun.Status.REJECTED
    assert [e[:4] for e in result.errors] == [
        (2, "order_id", "O-1", "duplicate_order"),
        (4, "order_id", "O-1", "duplicate_order"),
    ]
    assert result.errors[0][4] == (
        "row 2: order O-1 appears more than once in the file with different content (rows 2 to 4)"
    )
    assert nothing_written()


def test_the_same_order_twice_with_the_same_content_is_imported_once(run_import, csv_file):
    path = csv_file(f"{ORDERS_HEADER}\n{GOOD}O-1,C-1,ada@example.com,{D1},100.00,GBP\n")

    result = run_import(path)

    assert (result.status, result.orders_created, result.duplicate_rows) == ("succeeded", 2, 1)


def test_a_refunded_total_above_the_order_is_rejected(run_import, csv_file):
    path = csv_file(
        f"{ORDERS_HEADER},refunded_total\nO-1,C-1,a@b.co,{D1},100.00,GBP,60.00\n"
        f"O-2,C-2,b@b.co,{D1},100.00,GBP,100.01\n"
    )

    result = run_import(path)

    assert result.status == ImportRun.Status.REJECTED
    assert result.errors == [
        (
            3,
            "refunded_total",
            "100.01",
            "refund_exceeds_order",
            "row 3, column 'refunded_total': '100.01' adds up to more than the order's eligible "
            "amount 100.00",
        )
    ]
    assert nothing_written()


def test_an_eligible_total_above_the_total_is_rejected(run_import, csv_file):
    path = csv_file(f"{ORDERS_HEADER},eligible_total\nO-1,C-1,a@b.co,{D1},100.00,GBP,100.50\n")

    result = run_import(path)

    assert first_error(result) == (2, "eligible_total", "100.50", "eligible_exceeds_total")
    assert nothing_written()


def test_a_dry_run_lists_every_bad_row_and_writes_nothing(run_import, csv_file):
    bad = "".join(f"O-{n},C-{n},c@b.co,{D1},1.999,GBP\n" for n in range(3, 8))
    path = csv_file(f"{ORDERS_HEADER}\n{GOOD}{bad}")

    result = run_import(path, dry_run=True)

    assert result.status == ImportRun.Status.REJECTED
    assert [e[0] for e in result.errors] == [4, 5, 6, 7, 8]
    assert {e[3] for e in result.errors} == {"too_many_decimals"}
    assert (result.orders_created, result.members_created) == (2, 2)  # what --skip-invalid would
    assert nothing_written()
    assert result.run.dry_run is True


def test_skip_invalid_writes_the_good_rows_and_reports_the_rest(run_import, csv_file, tmp_path):
    report = tmp_path / "errors.csv"
    path = csv_file(f"{ORDERS_HEADER}\n{GOOD}O-3,C-3,c@b.co,yesterday,1.00,GBP\n")

    result = run_import(path, skip_invalid=True, errors_path=report)

    assert (result.status, result.orders_created, result.rows_rejected) == ("partial", 2, 1)
    assert sorted(Order.objects.values_list("order_id", flat=True)) == ["O-1", "O-2"]
    with open(report, newline="", encoding="utf-8") as handle:
        assert list(csv.reader(handle)) == [
            ["row", "column", "value", "error", "message"],
            [
                "4",
                "placed_at",
                "yesterday",
                "invalid_date",
                "row 4, column 'placed_at': 'yesterday' is not a date in the expected form "
                "(ISO 8601, e.g. 2024-05-01 or 2024-05-01 14:30:00 or 2024-05-01T14:30:00+01:00)",
            ],
        ]
    assert result.run.error_report == str(report)


def test_a_formula_in_a_name_is_stored_as_text_and_escaped_in_the_error_report(
    run_import, csv_file, tmp_path
):
    report = tmp_path / "errors.csv"
    formula = '=HYPERLINK("http://evil.example","click")'
    path = csv_file(
        f"{ORDERS_HEADER},first_name\n"
        f'O-1,C-1,a@b.co,{D1},1.00,GBP,"{formula.replace(chr(34), chr(34) * 2)}"\n'
        f'O-2,C-2,b@b.co,{D1},1.00,GBP,"{"=1+2" * 40}"\n'
    )

    result = run_import(path, skip_invalid=True, errors_path=report)

    assert Member.objects.get(external_id="C-1").first_name == formula
    assert result.errors[0][:4] == (3, "first_name", "=1+2" * 40, "too_long")
    assert ",'=1+2=1+2" in report.read_text(encoding="utf-8")
