"""The import preview's summary: errors grouped by kind and column, the rows rejected with their
order folded under the error that caused it; no Confirm when nothing would be written."""

from __future__ import annotations

import datetime as dt
from http import HTTPStatus

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from loyalty.importing.summary import error_summary
from members.roles import OPERATOR
from members.staff import staff_user_ensure

# The Online Retail layout (recognised by its header: the built-in `online-retail` profile).
LINES_HEADER = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country"


def _when() -> str:
    return (timezone.localtime() - dt.timedelta(days=5)).strftime("%Y-%m-%d %H:%M:%S")


@pytest.fixture(autouse=True)
def _uploads_in_tmp(settings, tmp_path):
    settings.IMPORT_UPLOAD_DIR = tmp_path / "uploads"


@pytest.fixture
def operator(db) -> Client:
    user, _ = staff_user_ensure(username="op", password="x", role=OPERATOR)
    client = Client()
    client.force_login(user)
    return client


def test_dependent_rows_fold_under_their_cause():
    errors = [
        (2, "InvoiceNo", "A", "order_conflict", "row 2: order A is already recorded"),
        (3, "InvoiceNo", "A", "order_rejected", "row 3: order A is rejected because of ..."),
        (4, "InvoiceNo", "A", "order_rejected", "row 4: order A is rejected because of ..."),
        (5, "Quantity", "x", "not_an_integer", "row 5, column 'Quantity': 'x' is not ..."),
        (6, "InvoiceNo", "B", "order_rejected", "row 6: order B is rejected because of ..."),
        (7, "InvoiceNo", "C", "order_conflict", "row 7: order C is already recorded"),
    ]

    summary = error_summary(errors)

    assert [(g.code, g.column, g.rows, g.first_rows) for g in summary.groups] == [
        ("order_conflict", "InvoiceNo", 2, [2, 7]),
        ("not_an_integer", "Quantity", 1, [5]),
        ("order_rejected", "InvoiceNo", 3, [3, 4, 6]),
    ]
    assert [(c.row, c.order_id, c.dependents) for c in summary.causes] == [
        (2, "A", 2),
        (5, None, 0),
        (7, "C", 0),
    ]
    assert (summary.causes_total, summary.dependent_rows, summary.dependent_unattached) == (
        3,
        3,
        1,
    )


def test_only_the_first_causes_are_listed_but_all_are_counted():
    errors = [(n, "total", "x", "not_a_number", f"row {n}: bad") for n in range(2, 12)]

    summary = error_summary(errors, shown=3)

    assert [c.row for c in summary.causes] == [2, 3, 4]
    assert (summary.causes_total, summary.causes_more) == (10, 7)


def _upload(client: Client, content: str):
    upload = SimpleUploadedFile("orders.csv", content.encode(), content_type="text/csv")
    return client.post(
        reverse("admin:loyalty_importrun_import"), {"file": upload, "format": "auto", "profile": ""}
    )


def test_the_preview_summarises_first_and_names_the_admin_s_checkbox(operator):
    when = _when()
    content = (
        f"{LINES_HEADER}\n"
        f"900001,S1,Mug,1,{when},10.00,90001,United Kingdom\n"
        f"900001,S2,Jug,x,{when},5.00,90001,United Kingdom\n"
        f"900001,S3,Cup,1,{when},5.00,90001,United Kingdom\n"
        f"900002,S1,Mug,2,{when},10.00,90002,United Kingdom\n"
    )

    preview = _upload(operator, content)
    page = preview.content.decode()

    assert preview.status_code == HTTPStatus.OK
    summary = preview.context["summary"]
    assert [(g.code, g.column, g.rows) for g in summary.groups] == [
        ("not_an_integer", "Quantity", 1),
        ("order_rejected", "InvoiceNo", 2),
    ]
    assert page.index('id="error-summary"') < page.index('class="import-summary"')
    assert "Confirm the import" in page
    assert "Without “Skip the bad rows” ticked, a file with bad rows imports nothing." in page


def test_a_rejected_admin_import_names_the_checkbox_and_the_command_its_flag(csv_file, run_import):
    # The admin's import runs as a job; what it reports is the pipeline's message.
    content = f"{LINES_HEADER}\n900001,S1,Mug,x,{_when()},10.00,90001,United Kingdom\n"

    by_admin = run_import(csv_file(content), via="admin")
    by_command = run_import(csv_file(content))

    assert by_admin.message == (
        "1 row(s) have errors; nothing was imported. Fix them, or tick “Skip the bad rows” to "
        "import the good rows."
    )
    assert by_command.message.endswith("import the good rows with --skip-invalid.")


def test_no_confirm_when_nothing_would_be_written(operator):
    content = f"{LINES_HEADER}\n900001,S1,Mug,x,{_when()},10.00,90001,United Kingdom\n"

    preview = _upload(operator, content)
    page = preview.content.decode()

    assert preview.context["nothing_to_write"] is True
    assert 'id="nothing-to-write"' in page
    assert "Confirm the import" not in page
