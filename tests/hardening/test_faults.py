"""Faults under load on PostgreSQL: a gunicorn worker SIGKILLed, PostgreSQL restarted.

Storefront clients post orders to a real gunicorn server (tests/hardening/load.py) and send an
order again, with the same body, whenever it got no answer or a 5xx. When the fault is over and
every client has its answers:
- every order was acknowledged (201, or 200 for a retry of one that had committed);
- each order exists exactly once, with exactly one earn posting, and nothing else was recorded;
- every acknowledged answer earned the order's points, and each member's balance is the sum;
- `audit_ledger` (`ledger_audit`) finds nothing.

The SIGKILL test runs on the suite's own database. The restart test restarts a private cluster
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
from tests.jobs.worker import database_url

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
