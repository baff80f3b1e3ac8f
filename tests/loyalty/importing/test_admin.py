"""The admin's import: upload, dry-run preview with every bad row, confirm (a background job:
inline here; tests/loyalty/importing/test_admin_background.py runs it on a real worker), the
progress and result page; runs and profiles."""

from __future__ import annotations

from http import HTTPStatus

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from loyalty.models import ImportProfile, ImportRun, Order
from members.models import AuditEntry
from members.roles import CUSTOMER_SERVICE, OPERATOR
from members.staff import staff_user_ensure
from tests.loyalty.importing.conftest import ORDERS_HEADER, days_ago

IMPORT_URL = "admin:loyalty_importrun_import"


@pytest.fixture(autouse=True)
def _uploads_in_tmp(settings, tmp_path):
    settings.IMPORT_UPLOAD_DIR = tmp_path / "uploads"
    settings.JOBS_RUN_INLINE = True  # the import job runs in-process after commit


@pytest.fixture
def confirm(operator, django_capture_on_commit_callbacks):
    """Confirm a preview; the import job runs at the request's commit, as on SQLite."""

    def _confirm(preview, **fields):
        with django_capture_on_commit_callbacks(execute=True):
            return operator.post(reverse(IMPORT_URL), {"token": preview.context["token"], **fields})

    return _confirm


def _client(role: str | None) -> Client:
    user, _ = staff_user_ensure(
        username=f"user-{role or 'admin'}", password="x", role=role, superuser=role is None
    )
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def operator(db) -> Client:
    return _client(OPERATOR)


def _upload(client: Client, content: str | bytes, name: str = "orders.csv", **fields):
    data = content.encode("utf-8") if isinstance(content, str) else content
    upload = SimpleUploadedFile(name, data, content_type="text/csv")
    return client.post(
        reverse(IMPORT_URL), {"file": upload, "format": "auto", "profile": "", **fields}
    )


GOOD = (
    f"{ORDERS_HEADER}\n"
    f"O-1,C-1,ada@example.com,{days_ago(30)},100.00,GBP\n"
    f"O-2,C-2,bob@example.com,{days_ago(3)},50.00,GBP\n"
)
BAD = GOOD + f"O-3,C-3,=cmd@example.com,{days_ago(3)},1.005,GBP\nO-4,C-4,,2999-01-01,5,GBP\n"


def test_the_runs_list_and_the_upload_page_open_for_an_operator(operator):
    listing = operator.get(reverse("admin:loyalty_importrun_changelist"))
    upload = operator.get(reverse(IMPORT_URL))

    assert (listing.status_code, upload.status_code) == (HTTPStatus.OK, HTTPStatus.OK)
    assert reverse(IMPORT_URL) in listing.content.decode()
    assert "Files up to 20 MB" in upload.content.decode()


def test_customer_service_cannot_import(db):
    client = _client(CUSTOMER_SERVICE)

    assert client.get(reverse(IMPORT_URL)).status_code == HTTPStatus.FORBIDDEN


def test_upload_previews_then_confirm_imports_the_same_file(operator, confirm):
    preview = _upload(operator, GOOD)

    assert preview.status_code == HTTPStatus.OK
    assert Order.objects.count() == 0
    result = preview.context["result"]
    assert (result.dry_run, result.orders_created, result.members_created) == (True, 2, 2)
    confirmed = confirm(preview)

    run = ImportRun.objects.get(dry_run=False)
    assert confirmed.status_code == HTTPStatus.FOUND
    assert confirmed["Location"].startswith("/admin/loyalty/importrun/progress/")
    page = operator.get(confirmed["Location"])
    assert page.status_code == HTTPStatus.OK
    assert page.context["run"] == run
    assert "Result: Succeeded" in page.content.decode()
    assert (run.status, run.via, run.actor_kind, run.actor_label) == (
        "succeeded",
        "admin",
        "staff",
        "user-Operator",
    )
    assert sorted(Order.objects.values_list("order_id", flat=True)) == ["O-1", "O-2"]
    assert operator.get(reverse("admin:loyalty_importrun_change", args=[run.pk])).status_code == (
        HTTPStatus.OK
    )


def test_the_preview_lists_every_bad_row_and_confirming_without_skipping_writes_nothing(
    operator, confirm
):
    preview = _upload(operator, BAD)

    page = preview.content.decode()
    assert [e[:4] for e in preview.context["errors_shown"]] == [
        (4, "total", "1.005", "too_many_decimals"),
        (5, "placed_at", "2999-01-01", "future_date"),
    ]
    assert "row 4, column &#x27;total&#x27;: &#x27;1.005&#x27; has 3 decimals" in page
    assert "download the error report" in page
    refused = confirm(preview)
    assert refused.status_code == HTTPStatus.FOUND
    assert Order.objects.count() == 0
    assert ImportRun.objects.get(dry_run=False).status == "rejected"


def test_confirming_with_skip_invalid_imports_the_good_rows(operator, confirm):
    preview = _upload(operator, BAD)

    confirm(preview, skip_invalid="on")

    assert ImportRun.objects.get(dry_run=False).status == "partial"
    assert Order.objects.count() == 2


def test_the_error_report_downloads_with_formulas_escaped(operator):
    preview = _upload(operator, BAD)
    url = reverse("admin:loyalty_importrun_errors", args=[preview.context["result"].run.pk])

    response = operator.get(url)

    assert response.status_code == HTTPStatus.OK
    body = b"".join(response.streaming_content).decode()
    assert body.splitlines()[0] == "row,column,value,error,message"
    assert "1.005" in body


def test_a_file_above_the_limit_is_sent_to_the_command(operator, settings):
    settings.IMPORT_ADMIN_MAX_MB = 0

    response = _upload(operator, GOOD)

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "Import it with the command instead: python manage.py import_orders orders.csv" in (
        response.content.decode()
    )
    assert ImportRun.objects.count() == 0


def test_an_unreadable_file_is_explained_and_cannot_be_confirmed(operator):
    response = _upload(operator, GOOD.encode("utf-16"))

    assert response.status_code == HTTPStatus.OK
    assert "This file cannot be imported: The file is UTF-16 encoded" in response.content.decode()
    assert "Confirm the import" not in response.content.decode()


def test_a_tampered_token_is_refused(operator):
    response = operator.post(reverse(IMPORT_URL), {"token": "forged"})

    assert response.status_code == HTTPStatus.FOUND
    assert ImportRun.objects.count() == 0


def test_a_profile_is_saved_through_the_service_with_an_audit_entry(operator):
    response = operator.post(
        reverse("admin:loyalty_importprofile_add"),
        {
            "name": "legacy",
            "description": "",
            "layout": "orders",
            "col_order_id": "Order",
            "col_customer_id": "Customer",
            "col_placed_at": "Date",
            "date_format": "",
            "col_total": "Amount",
            "fixed_currency": "GBP",
            "refund_marker": "",
        },
    )

    assert response.status_code == HTTPStatus.FOUND, response.content.decode()[:2000]
    profile = ImportProfile.objects.get()
    assert (profile.name, profile.col_total) == ("legacy", "Amount")
    assert AuditEntry.objects.filter(action="import_profile.create").count() == 1
    assert operator.get(reverse("admin:loyalty_importprofile_changelist")).status_code == 200
