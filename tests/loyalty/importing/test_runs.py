"""The run record and its guarantees: one import of a file at a time; a killed run resumes."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection, connections
from django.utils import timezone

from config.errors import ServiceError
from loyalty.importing.pipeline import import_orders
from loyalty.importing.synthetic import orders_csv_write
from loyalty.models import ImportRun, Lot, LotAllocation, Order, Posting, Refund
from members.actors import Actor
from members.models import Member
from tests.loyalty.importing.conftest import ORDERS_HEADER, days_ago

ROOT = Path(settings.BASE_DIR)


def _stale_run(path: Path, **fields) -> ImportRun:
    checksum = hashlib.sha256(path.read_bytes()).hexdigest()
    return ImportRun.objects.create(
        file_name=path.name,
        checksum=checksum,
        format="orders",
        actor_kind="system",
        actor_label="system:tests",
        **fields,
    )


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_run_whose_process_died_is_closed_as_interrupted(run_import, csv_file):
    path = csv_file(f"{ORDERS_HEADER}\nO-1,C-1,,{days_ago(3)},5,GBP\n")
    import socket

    crashed = _stale_run(path, pid=_dead_pid(), host=socket.gethostname())

    result = run_import(path)

    crashed.refresh_from_db()
    assert (crashed.status, result.status, result.orders_created) == (
        "interrupted",
        "succeeded",
        1,
    )


def test_a_run_still_alive_refuses_a_second_import_of_the_file(run_import, csv_file, is_postgres):
    if is_postgres:
        pytest.skip("on PostgreSQL a live run is its advisory lock (see the threaded test)")
    path = csv_file(f"{ORDERS_HEADER}\nO-1,C-1,,{days_ago(3)},5,GBP\n")
    import socket

    _stale_run(path, pid=os.getpid(), host=socket.gethostname())

    with pytest.raises(ServiceError) as excinfo:
        run_import(path)

    assert excinfo.value.code == "import_running"
    assert Order.objects.count() == 0


def test_a_silent_run_on_another_machine_is_stale_after_fifteen_minutes(run_import, csv_file):
    path = csv_file(f"{ORDERS_HEADER}\nO-1,C-1,,{days_ago(3)},5,GBP\n")
    _stale_run(
        path,
        pid=1,
        host="another-machine",
        heartbeat_at=timezone.now() - dt.timedelta(minutes=16),
    )

    assert run_import(path).status == "succeeded"


def test_dry_runs_do_not_hold_the_file(run_import, csv_file):
    path = csv_file(f"{ORDERS_HEADER}\nO-1,C-1,,{days_ago(3)},5,GBP\n")

    first = run_import(path, dry_run=True)
    second = run_import(path)

    assert (first.status, second.status, second.orders_created) == ("succeeded", "succeeded", 1)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_imports_of_one_file_at_once_the_second_is_refused(tmp_path):
    path = orders_csv_write(tmp_path / "big.csv", orders=300)
    started, release = threading.Event(), threading.Event()
    outcome = {}

    def first_import():
        def progress(phase, done, total):
            if phase == "write":
                started.set()
                release.wait(timeout=30)

        try:
            outcome["first"] = import_orders(
                path=path, actor=Actor.system("first"), progress=progress, chunk_orders=100
            )
        finally:
            connections["default"].close()

    thread = threading.Thread(target=first_import)
    thread.start()
    assert started.wait(timeout=30)
    try:
        with pytest.raises(ServiceError) as excinfo:
            import_orders(path=path, actor=Actor.system("second"))
    finally:
        release.set()
        thread.join(timeout=60)

    assert excinfo.value.code == "import_running"
    assert excinfo.value.message.startswith("This file is already being imported (started ")
    assert outcome["first"].status == "succeeded"
    assert Order.objects.count() == 300
    assert ImportRun.objects.filter(status="running").count() == 0


# --- kill -9 half-way, run again: the same state as one clean run ------------------------------


def _ledger_state() -> tuple[dict, str]:
    counts = {
        "members": Member.objects.count(),
        "orders": Order.objects.count(),
        "refunds": Refund.objects.count(),
        "postings": Posting.objects.count(),
        "lots": Lot.objects.count(),
        "allocations": LotAllocation.objects.count(),
        "points": sum(Posting.objects.values_list("points", flat=True)),
    }
    credit_key = dict(Posting.objects.filter(points__gt=0).values_list("pk", "idempotency_key"))
    digest = hashlib.sha256()
    rows = Posting.objects.values_list(
        "idempotency_key",
        "kind",
        "points",
        "member__external_id",
        "effective_at",
        "available_at",
        "expires_at",
        "order__order_id",
        "refund__refund_id",
        "source_id",
    )
    normalised = []
    for key, kind, *rest, source_id in rows:
        if kind == "expire":  # keyed by its lot's id: name the lot by its credit instead
            key = f"expire:{credit_key[int(source_id)]}"
            source_id = credit_key[int(source_id)]
        normalised.append((key, kind, *rest, source_id))
    for row in sorted(normalised):
        digest.update(repr(row).encode())
    return counts, digest.hexdigest()


def _command(path: Path) -> list[str]:
    return [
        sys.executable,
        str(ROOT / "manage.py"),
        "import_orders",
        str(path),
        "--no-progress",
        "--chunk-size",
        "500",
    ]


def _env() -> dict:
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": f"postgres://{auth}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
    }


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_killed_half_way_then_run_again_ends_as_one_clean_run(tmp_path):
    path = orders_csv_write(tmp_path / "history.csv", orders=12_000, seed=7)
    env = _env()

    # given: an import killed with SIGKILL once some chunks are committed, before the end
    victim = subprocess.Popen(_command(path), env=env, cwd=ROOT, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        run = ImportRun.objects.filter(status="running").first()
        if run is not None and run.orders_created >= 1_500:
            break
        time.sleep(0.01)
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait(timeout=30)
    written = Order.objects.count()
    assert 0 < written < 12_000, "the kill must land half-way"
    assert ImportRun.objects.get().status == "running"

    # when: it is run again
    again = subprocess.run(_command(path), env=env, cwd=ROOT, capture_output=True, text=True)

    # then: it finishes the job, and the ledger is what one clean run gives
    assert again.returncode == 0, again.stderr
    assert "orders already present" in again.stdout
    assert sorted(ImportRun.objects.values_list("status", flat=True)) == [
        "interrupted",
        "succeeded",
    ]
    resumed = _ledger_state()
    call_command("flush", interactive=False, verbosity=0)
    clean = subprocess.run(_command(path), env=env, cwd=ROOT, capture_output=True, text=True)
    assert clean.returncode == 0, clean.stderr
    assert _ledger_state() == resumed
    assert resumed[0]["orders"] == 12_000
