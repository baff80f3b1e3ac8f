"""Races on PostgreSQL with real threads: the member's account lock is what makes them safe.

Each thread has its own database connection (Django's are per thread) and closes it at the end.
A barrier starts the threads together. The autouse audit in conftest.py recomputes the ledger
after each scenario. Contention never surfaces as a 500: a lock wait past `lock_timeout` is a
503 with `Retry-After`, and a deadlock is retried.
"""

from __future__ import annotations

import threading
import time
from decimal import Decimal
from http import HTTPStatus

import pytest
from django.db import OperationalError, connection, connections, transaction
from rest_framework.test import APIClient

from config.api.retry import retry_on_contention
from config.errors import ServiceError
from loyalty.models import Account, Order, Posting
from loyalty.services.ledger import account_lock
from loyalty.services.orders import order_record
from loyalty.services.points import points_adjust_post, points_spend
from tests.loyalty.test_api_orders import assert_problem, iso, order_body, placed, post

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def run_at_once(count: int, work) -> list:
    """Run `work(i)` in `count` threads started together; return what each returned or raised."""
    barrier = threading.Barrier(count)
    results: list = [None] * count

    def runner(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[i] = work(i)
        except Exception as exc:  # reported to the test, which asserts on it
            results[i] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=runner, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results


def storefront(api_key) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {api_key.raw_key}")
    return client


def test_the_same_order_sent_20_times_at_once_earns_once(api_key, member):
    body = order_body(total="80.00")

    def send(i):
        response = post(storefront(api_key), body)
        return response.status_code, response.json()

    results = run_at_once(20, send)

    statuses = sorted(status for status, _ in results)
    assert statuses == [HTTPStatus.OK] * 19 + [HTTPStatus.CREATED]
    bodies = [answer for _, answer in results]
    assert all(answer == bodies[0] for answer in bodies)
    assert bodies[0]["member"]["points"] == {"available": 0, "pending": 80}
    assert Posting.objects.filter(member=member).count() == 1
    assert Order.objects.count() == 1


def test_the_same_order_id_for_two_members_at_once_is_recorded_once(
    api_key, member, make_member, system_actor
):
    other = make_member(external_id="C-2002")
    when = placed()

    def record(i):
        try:
            return order_record(
                order_id="O-1",
                member=(member, other)[i % 2],
                placed_at=when,
                currency="GBP",
                total=Decimal("10.00"),
                actor=system_actor,
            ).created
        except ServiceError as exc:
            return exc.code

    results = run_at_once(10, record)

    assert results.count(True) == 1
    winner = Order.objects.get().member_id
    # Repeats for the winner's member answer as repeats; the other member's are conflicts.
    assert sorted(map(str, results)) == sorted(["True"] + ["False"] * 4 + ["order_conflict"] * 5)
    assert Posting.objects.filter(member_id=winner).count() == 1


@pytest.mark.parametrize("k", [0, 7, 50])
def test_50_parallel_spends_against_a_balance_for_k_succeed_exactly_k_times(
    member, system_actor, k
):
    if k:
        points_adjust_post(
            member=member, points=10 * k, reason="seed", actor=system_actor, idempotency_key="s"
        )

    def spend(i):
        try:
            with transaction.atomic():
                points_spend(
                    member=member, points=10, actor=system_actor, idempotency_key=f"spend-{i}"
                )
            return "ok"
        except ServiceError as exc:
            return exc.code

    results = run_at_once(50, spend)

    assert (results.count("ok"), results.count("insufficient_points")) == (k, 50 - k)
    balance = Account.objects.filter(member=member).values_list("available", "pending").first()
    assert balance == ((0, 0) if k else None)  # with nothing ever posted there is no account
    assert Posting.objects.filter(member=member, kind="redeem").count() == k


def test_a_refund_and_an_order_for_the_same_member_at_once(api_key, member):
    client = storefront(api_key)
    for n in range(10):
        assert post(client, order_body(order_id=f"O-{n}", total="100.00")).status_code == 201

    def work(i):
        n = i // 2
        if i % 2:
            return post(storefront(api_key), order_body(order_id=f"N-{n}", total="30.00"))
        return storefront(api_key).post(
            f"/api/v1/orders/O-{n}/refunds",
            {"refund_id": f"R-{n}", "amount": "40.00"},
            format="json",
        )

    results = run_at_once(20, work)

    assert sorted(r.status_code for r in results) == [HTTPStatus.CREATED] * 20
    account = Account.objects.get(member=member)
    # 10 orders of 100, 10 of 30, 10 refunds of 40 points: all still pending.
    assert (account.available, account.pending) == (0, 1000 + 300 - 400)


def test_a_lock_wait_past_lock_timeout_is_503_with_retry_after(api_client, member):
    held, release = threading.Event(), threading.Event()

    def hold_the_member_lock():
        try:
            with transaction.atomic():
                account_lock(member_id=member.pk)
                held.set()
                release.wait(timeout=30)
        finally:
            connections.close_all()

    holder = threading.Thread(target=hold_the_member_lock)
    holder.start()
    assert held.wait(timeout=10)
    with connection.cursor() as cursor:
        cursor.execute("SET lock_timeout = '200ms'")
    try:
        response = post(api_client, order_body())
    finally:
        release.set()
        holder.join(timeout=30)
        with connection.cursor() as cursor:
            cursor.execute("RESET lock_timeout")

    assert_problem(response, HTTPStatus.SERVICE_UNAVAILABLE, "database_busy")
    assert response["Retry-After"] == "1"
    assert Order.objects.count() == 0
    # Once the lock is free the same request goes through.
    assert post(api_client, order_body()).status_code == HTTPStatus.CREATED


def test_a_deadlock_is_retried_and_then_succeeds(member, make_member):
    """A real deadlock: we lock A then B while another transaction locks B then A. They start
    waiting first, but our `deadlock_timeout` is much shorter, so PostgreSQL's check runs in our
    session and aborts us; the retry then goes through."""
    other = make_member(external_id="C-2002")
    for m in (member, other):
        with transaction.atomic():
            account_lock(member_id=m.pk)  # both accounts exist
    we_hold_a, they_hold_b, attempts = threading.Event(), threading.Event(), []

    def lock_b_then_a():
        try:
            assert we_hold_a.wait(timeout=10)
            with transaction.atomic():
                account_lock(member_id=other.pk)
                they_hold_b.set()
                account_lock(member_id=member.pk)  # waits for us
        finally:
            connections.close_all()

    def lock_a_then_b():
        attempts.append(1)
        with transaction.atomic():
            account_lock(member_id=member.pk)
            if len(attempts) == 1:
                we_hold_a.set()
                assert they_hold_b.wait(timeout=10)
                time.sleep(0.2)  # they are waiting for A by now
            account_lock(member_id=other.pk)
        return len(attempts)

    with connection.cursor() as cursor:
        try:
            cursor.execute("SET deadlock_timeout = '100ms'")
        except OperationalError:  # pragma: no cover - needs a superuser connection
            pytest.skip("cannot lower deadlock_timeout here")
    them = threading.Thread(target=lock_b_then_a)
    them.start()
    try:
        result = retry_on_contention(lock_a_then_b)
    finally:
        them.join(timeout=30)
        with connection.cursor() as cursor:
            cursor.execute("RESET deadlock_timeout")

    assert result == 2


def test_30_orders_for_one_member_at_once_keep_the_balance_exact(api_key, member):
    when = placed()

    def send(i):
        body = order_body(order_id=f"O-{i}", placed_at=iso(when), total=f"{i + 1}.00")
        return post(storefront(api_key), body).status_code

    results = run_at_once(30, send)

    assert results == [HTTPStatus.CREATED] * 30
    assert Account.objects.get(member=member).pending == sum(range(1, 31))


def test_the_same_refund_id_for_orders_of_two_members_at_once_counts_once(
    api_key, member, make_member
):
    make_member(external_id="C-2002")
    client = storefront(api_key)
    for n in range(5):
        post(client, order_body(order_id=f"A-{n}", total="100.00"))
        post(client, order_body(order_id=f"B-{n}", member="C-2002", total="100.00"))

    def send(i):
        n, order = i // 2, ("A", "B")[i % 2]
        response = storefront(api_key).post(
            f"/api/v1/orders/{order}-{n}/refunds",
            {"refund_id": f"R-{n}", "amount": "10.00"},
            format="json",
        )
        return n, response.status_code

    results = run_at_once(10, send)

    for n in range(5):
        assert sorted(status for m, status in results if m == n) == [
            HTTPStatus.CREATED,
            HTTPStatus.CONFLICT,
        ]
    assert Posting.objects.filter(kind="refund_reversal").count() == 5
