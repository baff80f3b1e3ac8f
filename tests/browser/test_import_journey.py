"""An operator's import in Chromium: a file with errors, its summary, the good rows imported,
the progress page's bar and the result.

On SQLite (where the browser tests run) a job runs in-process when the confirming request
commits, so by the time the browser follows the redirect the import has ended and the progress
page shows its result. The bar itself is watched on a run that is still running: the test plays
the worker's part with the services the pipeline calls (`run_start`, the `ProgressRecorder`,
`run_finish`), one step at a time, while the page's script polls and moves the bar.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from loyalty.admin.import_progress import progress_token
from loyalty.importing.progress import ProgressRecorder
from loyalty.importing.runs import run_finish, run_start
from loyalty.models import ImportRun, Order
from members.actors import Actor
from members.roles import OPERATOR
from tests.loyalty.importing.conftest import ORDERS_HEADER, days_ago

pytestmark = pytest.mark.django_db(transaction=True)
# The page polls every second; on a busy machine a poll and its answer may take a few more.
POLL_WAIT = 15_000


@pytest.fixture(autouse=True)
def _uploads_in_tmp(settings, tmp_path):
    settings.IMPORT_UPLOAD_DIR = tmp_path / "uploads"


def test_an_operator_imports_the_good_rows_of_a_file_with_errors(
    staff, login, live_server, console
):
    content = (
        f"{ORDERS_HEADER}\n"
        f"O-1,C-1,ada@example.com,{days_ago(30)},100.00,GBP\n"
        f"O-2,C-2,bob@example.com,{days_ago(20)},12.x0,GBP\n"
        f"O-3,C-3,cy@example.com,{days_ago(3)},50.00,GBP\n"
        f"O-4,C-4,dee@example.com,not a date,20.00,GBP\n"
    )
    page = login(staff(OPERATOR, "operator"))

    page.get_by_role("link", name="Import runs").first.click()
    page.get_by_role("link", name="Import orders").click()
    page.set_input_files(
        "#id_file",
        files=[{"name": "orders.csv", "mimeType": "text/csv", "buffer": content.encode()}],
    )
    page.get_by_role("button", name="Check the file").click()

    # The summary comes first: two errors, by kind and column; nothing written yet.
    summary = page.locator("#error-summary")
    expect(summary.locator("h2")).to_have_text("2 rows have errors: 2 errors to fix")
    expect(page.locator("#error-groups tbody tr")).to_have_count(2)
    expect(page.locator("#import-errors tbody tr")).to_have_count(2)
    expect(page.locator("#import-errors tbody")).to_contain_text("12.x0")
    assert Order.objects.count() == 0

    page.get_by_label("Skip the bad rows").check()
    page.get_by_role("button", name="Confirm the import").click()

    expect(page.locator("h1")).to_have_text("Importing orders.csv")
    expect(page.locator("#import-result")).to_have_text("Result: Succeeded, some rows rejected")
    result = page.locator("table.import-summary")
    expect(result.locator("tr", has_text="Orders created").locator("td")).to_have_text("2")
    expect(result.locator("tr", has_text="Rows with errors").locator("td")).to_contain_text("2")
    assert sorted(Order.objects.values_list("order_id", flat=True)) == ["O-1", "O-3"]

    # The runs list tells the preview from the import.
    page.get_by_role("link", name="The run's record").click()
    page.locator(".breadcrumbs").get_by_role("link", name="Import runs").click()
    kinds = page.locator("#result_list tbody td.field-kind")
    expect(kinds).to_have_text(["Import", "Preview (nothing written)"])
    assert console == []


def test_the_progress_bar_follows_a_running_import_to_its_result(
    staff, login, live_server, console
):
    checksum = "c0" * 32
    run = run_start(
        actor=Actor.system("tests"),
        file_name="history.csv",
        file_size=1_000_000,
        checksum=checksum,
        fmt="orders",
        profile="",
        dry_run=False,
        skip_invalid=True,
        via="admin",
    )
    token = progress_token(checksum=checksum, name="history.csv", since=run.started_at, job_id=None)
    page = login(staff(OPERATOR, "operator"))

    page.goto(f"{live_server.url}/admin/loyalty/importrun/progress/{token}/")

    bar = page.locator("#import-progress")
    status = page.locator("#import-progress-text")
    expect(page.locator("h1")).to_have_text("Importing history.csv")
    expect(bar).to_be_visible()
    expect(status).to_have_text("Starting: 0% (0 rows read)")
    # The worker reads half the file, then writes: the page follows without a reload.
    record = ProgressRecorder(checksum=checksum, clock=iter(range(0, 100, 5)).__next__)
    record("read", 500_000, 1_000_000)
    ImportRun.objects.filter(pk=run.pk).update(rows_read=12_345)
    expect(status).to_have_text("Reading the file: 27% (12,345 rows read)", timeout=POLL_WAIT)
    expect(bar).to_have_attribute("value", "27", timeout=POLL_WAIT)
    record("write", 1, 2)
    expect(status).to_have_text(
        "Writing orders and points: 81% (12,345 rows read)", timeout=POLL_WAIT
    )
    expect(bar).to_have_attribute("value", "81", timeout=POLL_WAIT)

    run_finish(run, status=ImportRun.Status.SUCCEEDED, rows_read=12_345, orders_created=4_000)

    # The page reloads itself and shows the result.
    expect(page.locator("#import-result")).to_have_text("Result: Succeeded", timeout=POLL_WAIT)
    expect(page.locator("#import-progress")).to_have_count(0)
    result = page.locator("table.import-summary")
    expect(result.locator("tr", has_text="Rows read").locator("td")).to_have_text("12,345")
    expect(result.locator("tr", has_text="Orders created").locator("td")).to_have_text("4,000")
    assert console == []
