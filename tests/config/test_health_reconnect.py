"""`/healthz` after the database dropped a worker's kept connection (PostgreSQL).

A real gunicorn worker keeps its connection (`CONN_MAX_AGE=60`); then the server ends that
connection, as a restart does to every connection. With `CONN_HEALTH_CHECKS` (the default,
`DB_CONN_HEALTH_CHECKS`) the next request reconnects and answers 200; without it, 503.

The connection is ended with `pg_terminate_backend` rather than by restarting the cluster: the
suite runs on two processes sharing that cluster, and a restart would break the other one's test.
For the server side it is the same event: the backend process ends and its socket closes.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.db import connection

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=90) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


@pytest.fixture
def gunicorn(tmp_path):
    """`gunicorn(health_checks=True)`: one sync worker on the test database; its base URL."""
    started = []

    def _start(*, health_checks: bool, name: str) -> str:
        db = connection.settings_dict
        url = (
            f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
            f"?application_name={name}"
        )
        port = _port()
        log = tmp_path / f"{name}.log"
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.test",
            "DATABASE_URL": url,
            "CONN_MAX_AGE": "60",
            "DB_CONN_HEALTH_CHECKS": "true" if health_checks else "false",
        }
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "config.wsgi", "-w", "1", "-b", f"127.0.0.1:{port}"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=open(log, "w"),  # noqa: SIM115 (closed with the process)
        )
        started.append(process)
        base = f"http://127.0.0.1:{port}"
        for _ in range(600):  # the worker loads Django: seconds on a busy machine
            if process.poll() is not None:
                raise RuntimeError("gunicorn exited")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                return base
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("gunicorn did not start")

    yield _start
    for process in started:
        process.terminate()
        process.wait(timeout=20)


def _end_connections(name: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE application_name = %s",
            [name],
        )
        return cursor.fetchone()[0]


@pytest.mark.parametrize(("health_checks", "after"), [(True, 200), (False, 503)])
def test_healthz_after_the_database_ended_the_kept_connection(gunicorn, health_checks, after):
    name = f"healthz-{'checked' if health_checks else 'unchecked'}-{os.getpid()}"
    base = gunicorn(health_checks=health_checks, name=name)
    assert _get(f"{base}/healthz") == 200
    assert _end_connections(name) == 1  # the worker kept its connection

    first = _get(f"{base}/healthz")

    assert first == after
    assert _get(f"{base}/healthz") == 200  # either way the worker has reconnected by now
