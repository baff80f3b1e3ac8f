"""Faults under load on PostgreSQL: a gunicorn worker SIGKILLed, PostgreSQL restarted.

Storefront clients post orders to a real gunicorn server (tests/hardening/load.py) and send an
order again, with the same body, whenever it got no answer or a 5xx. When the fault is over and
every client has its answers:
- every order was acknowledged (201, or 200 for a retry of one that had committed);
- each order exists exactly once, with exactly one earn posting, and nothing else was recorded;
- every acknowledged answer earned the order's points, and each member's balance is the sum;
- `audit_ledger` (`ledger_audit`) finds nothing.

PostgreSQL restarted while a job worker (`manage.py jobs_worker`) delivers webhooks to a receiver
on 127.0.0.1: the same worker process carries on, and every event from before and after the
restart is delivered (at least once) with a valid signature.

The SIGKILL test runs on the suite's own database. The restart tests restart a private cluster
(tests/hardening/cluster.py): the suite's processes share theirs.
"""

from __future__ import annotations

import os
import signal

import pytest
from django.db import connection, transaction

from loyalty.models import Account
from tests.hardening import remote
from tests.hardening.cluster import PrivateCluster, run_remote, wait_until
from tests.hardening.load import OrderLoad, gunicorn, order_points
from tests.jobs.worker import database_url, running_worker
from tests.webhooks.receiver import Receiver, verify

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


@pytest.fixture(scope="module")
def cluster():
    # Skipped on SQLite before this runs (the `postgres` mark); only PostgreSQL's binaries needed.
    cluster = PrivateCluster.create()
    yield cluster
    cluster.destroy()


def waiting_on_a_lock() -> int:
    """Backends of this database waiting for a lock (the suite's other process uses another).

    Called inside a transaction: the statistics snapshot, kept for the whole transaction by
    default, is dropped first so that each call sees the backends as they are now."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0]


def assert_every_order_exactly_once(load: OrderLoad, report: dict) -> None:
    order_ids = load.order_ids()
    assert load.refused == {}
    assert sorted(load.acknowledged) == sorted(order_ids)
    assert report["orders"] == dict.fromkeys(order_ids, 1)
    assert report["earn_postings"] == dict.fromkeys(order_ids, 1)
    assert report["unknown_orders"] == []
    for order_id, answer in load.acknowledged.items():
        _, client, n = order_id.split("-")
        assert answer["points"]["total"] == order_points(int(client), int(n)), answer
    assert report["balances"] == load.expected_balances()
    assert report["audit"] == []


@pytest.mark.django_db(transaction=True)
def test_a_gunicorn_worker_sigkilled_under_order_load_loses_and_doubles_nothing(tmp_path):
    # given a server with two workers on the suite's database, and four storefront clients
    url = database_url()
    seed = remote.orders_seed(members=2)
    with gunicorn(url, tmp_path, workers=2) as server:
        load = OrderLoad(server, seed["key"], seed["currency"]).start()
        wait_until(lambda: load.done() >= 20, timeout=60, what="the first orders")

        # when one worker is SIGKILLed in the middle of a request: both workers are held
        # waiting for the members' account locks (taken here), so the victim is in one
        before = server.worker_pids()
        victim = min(before)
        with transaction.atomic():
            list(Account.objects.select_for_update().order_by("pk"))
            wait_until(lambda: waiting_on_a_lock() == 2, timeout=30, what="both workers waiting")
            os.kill(victim, signal.SIGKILL)
            wait_until(lambda: victim not in server.worker_pids(), timeout=30, what="the kill")
        # then gunicorn replaces it, and the clients finish
        wait_until(lambda: len(server.worker_pids() - before) == 1, timeout=60, what="a new worker")
        load.join()

    # and the victim's client got no answer and sent its order again; every order was recorded
    # exactly once, however often it was sent
    assert [what for _, what in load.retried] == ["RemoteDisconnected"]
    assert_every_order_exactly_once(load, remote.orders_report(order_ids=load.order_ids()))


def test_postgresql_restarted_under_order_load_loses_and_doubles_nothing(cluster, tmp_path):
    # given a server with two workers keeping their connections, and four storefront clients
    url = cluster.database("orders_restart")
    seed = run_remote(url, "orders_seed", members=2)
    with gunicorn(url, tmp_path, workers=2, CONN_MAX_AGE="60") as server:
        load = OrderLoad(server, seed["key"], seed["currency"]).start()
        wait_until(lambda: load.done() >= 20, timeout=60, what="the first orders")

        # when PostgreSQL crashes and restarts mid-load
        cluster.restart()
        load.join()

    # then requests failed meanwhile (503, Retry-After), and were answered when sent again
    assert load.retried
    assert {what for _, what in load.retried} == {"503"}
    assert_every_order_exactly_once(
        load, run_remote(url, "orders_report", order_ids=load.order_ids())
    )


# Webhook retries after 1 s; the dispatcher every second; a stalled job (its worker's heartbeat
# older than 3 s) retried within 2 s.
JOBS_FAST = {
    "WEBHOOKS_RETRY_SCHEDULE": ",".join(["1"] * 30),
    "WEBHOOKS_CONNECT_TIMEOUT": "1",
    "WEBHOOKS_READ_TIMEOUT": "20",
    "WEBHOOKS_TOTAL_TIMEOUT": "20",
    "JOBS_WORKER_CONCURRENCY": "4",
    "WEBHOOKS_DISPATCH_CRON": "* * * * * *",
    "WEBHOOKS_DISPATCH_SECONDS": "0.8",
    "JOBS_HEARTBEAT_SECONDS": "1",
    "JOBS_STALLED_AFTER_SECONDS": "3",
    "JOBS_STALLED_CHECK_CRON": "* * * * * */2",
}


def test_postgresql_restarted_while_job_workers_run_loses_no_event(cluster, tmp_path):
    # given an endpoint that holds its requests open, ten events, and a worker delivering them
    url = cluster.database("jobs_restart")
    receiver = Receiver()
    try:
        receiver.behave("/hook", "hang")
        secret = run_remote(url, "endpoint_seed", receiver_url=receiver.url("/hook"))["secret"]
        before = run_remote(url, "events_record", start=1, count=10)["ids"]
        with running_worker(tmp_path, env={**JOBS_FAST, "DATABASE_URL": url}) as worker:
            wait_until(lambda: len(receiver.at("/hook")) == 2, timeout=60, what="two deliveries")

            # when PostgreSQL crashes and restarts while the worker is mid-delivery
            cluster.restart()
            receiver.behave("/hook", "ok")
            receiver.released.set()  # the held requests are answered 500: delivered later
            after = run_remote(url, "events_record", start=11, count=10)["ids"]

            # then the worker carries on: every event, from before and after, is delivered
            wait_until(
                lambda: {r.id for r in receiver.at("/hook")} == {*before, *after},
                timeout=60,
                what="every event",
            )
            report = wait_until(lambda: settled(url), timeout=90, what="every job finished")
            assert worker.poll() is None  # the same process: it reconnected
    finally:
        receiver.close()

    assert report["deliveries"] == {"delivered": 20}
    failed = {k.split()[0] for k in report["jobs"] if k.endswith(" failed")}
    assert failed <= {k.strip() for k in PERIODIC}
    assert all(verify(secret=secret, headers=r.headers, body=r.body) for r in receiver.at("/hook"))


# Periodic jobs: one the crash interrupted may have failed, and the next run (every second or
# two) covers it; at any moment one may be waiting or running.
PERIODIC = ("webhooks.dispatch ", "webhooks.retry_overdue ", "jobs.tasks.retry_stalled_jobs ")


def settled(url: str) -> dict | None:
    """The deliveries and jobs, once every delivery is delivered and every delivery job (any job
    but the periodic ones) has succeeded."""
    report = run_remote(url, "deliveries_report")
    print(report["deliveries"], report["jobs"])  # shown if the test fails
    others = [k for k in report["jobs"] if not k.startswith(PERIODIC)]
    if report["deliveries"] != {"delivered": 20} or not others:
        return None
    if not all(k.endswith(" succeeded") for k in others):
        return None
    return report
