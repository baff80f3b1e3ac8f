"""A real worker process against the test database, for tests marked `postgres` that use
`django_db(transaction=True)` (the worker only sees committed rows).

`running_worker(log_dir, name=..., env={...})` starts `manage.py jobs_worker` (the production
worker command, docs/jobs.md) in its own process group with the test settings, the test
database's URL and the probe tasks (tests/jobs/probe_tasks.py) importable; on exit it stops it
(SIGTERM, then SIGKILL). `kill(proc)` is the SIGKILL of a crashed machine. `wait_for(check)`
polls until `check()` is truthy.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote

from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


def database_url() -> str:
    db = connection.settings_dict
    auth = quote(db["USER"] or "")
    if db.get("PASSWORD"):
        auth += ":" + quote(db["PASSWORD"])
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@contextlib.contextmanager
def running_worker(
    log_dir: Path, *, name: str = "worker-1", env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen]:
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": database_url(),
        "JOBS_IMPORT_PATHS": "tests.jobs.probe_tasks",
        "PYTHONUNBUFFERED": "1",
        "JOBS_POLL_SECONDS": "0.5",
        **(env or {}),
    }
    log = (log_dir / f"{name}.log").open("ab")
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "jobs_worker", "--name", name],
        cwd=ROOT,
        env=environment,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                kill(proc)
        log.close()


def kill(proc: subprocess.Popen) -> None:
    """SIGKILL the worker: no clean shutdown, no last word to the database."""
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)


def wait_for(check: Callable[[], object], *, timeout: float = 60, what: str = "") -> object:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what or check}")
        time.sleep(0.2)
