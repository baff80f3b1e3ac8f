"""Races on PostgreSQL with real threads: stock, one member's balance, idempotency, cancel.

Each thread has its own database connection and transaction; a barrier releases them together so
they really overlap. The autouse ledger audit runs after each test.
"""

from __future__ import annotations

import threading
from collections import Counter
from http import HTTPStatus

import pytest
from django.db import connection
from rest_framework.test import APIClient

from config.errors import ServiceError
from loyalty.models import Account, Posting
from members.actors import Actor
from members.models import Member
from rewards.models import Redemption, Reward, StockMovement
from rewards.services import redemption_cancel, redemption_create

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _race(n: int, work) -> list:
    """Run `work(i)` in `n` threads released at once; each result or the error's code."""
    barrier = threading.Barrier(n)
    results: list = [None] * n

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[i] = work(i)
        except ServiceError as exc:
            results[i] = exc.code
        except Exception as exc:
            results[i] = repr(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return results


def test_stock_k_with_n_members_at_once_issues_exactly_k(make_member, give_points, make_reward):
    # given 5 left and 12 members who can all afford it
    k, n = 5, 12
    reward = make_reward(code="LIMITED", stock=k)
    members = [make_member() for _ in range(n)]
    for m in members:
        give_points(m, 500)
    actor = Actor.system("race")

    # when they all redeem at once
    results = _race(
        n,
        lambda i: (
            redemption_create(
                member=members[i], reward_code="LIMITED", actor=actor
            ).redemption.status
        ),
    )

    # then exactly k got a coupon, the rest were told it is out of stock, and stock is 0
    outcomes = Counter(results)
    assert outcomes == {"issued": k, "out_of_stock": n - k}
    assert Reward.objects.get(pk=reward.pk).stock == 0
    assert Redemption.objects.filter(reward=reward).count() == k
    assert StockMovement.objects.filter(reward=reward, kind="redemption").count() == k
    assert Posting.objects.filter(kind="redeem").count() == k
    assert sorted(Account.objects.values_list("available", flat=True)) == [0] * k + [500] * (n - k)


def test_one_member_whose_balance_covers_k_firing_n_gets_exactly_k(
    member, give_points, make_reward
):
    # given 1,700 points: enough for 3 redemptions at 500
    k, n = 3, 10
    make_reward(code="FIVE_OFF")
    give_points(member, 1700)
    actor = Actor.system("race")

    results = _race(
        n,
        lambda i: (
            redemption_create(member=member, reward_code="FIVE_OFF", actor=actor).redemption.status
        ),
    )

    assert Counter(results) == {"issued": k, "insufficient_points": n - k}
    assert Account.objects.get(member=member).available == 200
    assert Redemption.objects.filter(member=member).count() == k


def test_per_member_limit_holds_under_a_race(member, give_points, make_reward):
    make_reward(code="TWICE", per_member_limit=2)
    give_points(member, 5000)
    actor = Actor.system("race")

    results = _race(
        8,
        lambda i: (
            redemption_create(member=member, reward_code="TWICE", actor=actor).redemption.status
        ),
    )

    assert Counter(results) == {"issued": 2, "limit_reached": 6}


def test_same_idempotency_key_twenty_times_at_once_redeems_once(
    api_client, member, give_points, make_reward
):
    # given a member who could afford 4 of them
    make_reward(code="FIVE_OFF", stock=10)
    give_points(member, 2000)
    raw_key = api_client.api_key.raw_key

    def post(i):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw_key}")
        response = client.post(
            f"/api/v1/members/{member.external_id}/redemptions",
            {"reward": "FIVE_OFF"},
            format="json",
            HTTP_IDEMPOTENCY_KEY="one-key",
        )
        return response.status_code, response.json().get("id") or response.json()["code"]

    results = _race(20, post)

    # then one redemption; every answer is that redemption or "still in progress"
    redemption = Redemption.objects.get()
    statuses = Counter(status for status, _ in results)
    assert set(statuses) <= {HTTPStatus.CREATED, HTTPStatus.CONFLICT}
    assert {body for status, body in results if status == HTTPStatus.CREATED} == {
        str(redemption.pk)
    }
    assert {body for status, body in results if status == HTTPStatus.CONFLICT} <= {
        "request_in_progress"
    }
    assert Account.objects.get(member=member).available == 1500
    assert Reward.objects.get(code="FIVE_OFF").stock == 9


def test_cancel_twice_at_once_gives_points_back_once(member, give_points, make_reward):
    make_reward(code="FIVE_OFF", stock=4)
    give_points(member, 500)
    actor = Actor.system("race")
    issued = redemption_create(member=member, reward_code="FIVE_OFF", actor=actor).redemption

    results = _race(
        2,
        lambda i: (
            redemption_cancel(
                redemption=Redemption.objects.get(pk=issued.pk), actor=actor, reason=f"twin {i}"
            ).status
        ),
    )

    assert sorted(results) == ["cancelled", "redemption_cancelled"]
    assert Account.objects.get(member=member).available == 500
    assert Posting.objects.filter(kind="cancel_redemption").count() == 1
    assert Reward.objects.get(code="FIVE_OFF").stock == 4
    assert StockMovement.objects.filter(kind="cancellation").count() == 1


def test_cancel_and_use_at_once_one_wins(member, give_points, make_reward):
    from rewards.services import redemption_use

    make_reward(code="FIVE_OFF", stock=4)
    give_points(member, 500)
    actor = Actor.system("race")
    issued = redemption_create(member=member, reward_code="FIVE_OFF", actor=actor).redemption

    def work(i):
        fresh = Redemption.objects.get(pk=issued.pk)
        if i == 0:
            return redemption_cancel(redemption=fresh, actor=actor, reason="race").status
        return redemption_use(redemption=fresh, order_id="O-1", actor=actor).status

    results = sorted(_race(2, work))

    final = Redemption.objects.get(pk=issued.pk)
    assert results in (["cancelled", "redemption_cancelled"], ["redemption_used", "used"])
    balance = Account.objects.get(member=Member.objects.get(pk=member.pk)).available
    assert balance == (500 if final.status == "cancelled" else 0)


def test_staff_stock_changes_during_redemptions_neither_deadlock_nor_lose_units(
    make_member, give_points, make_reward
):
    from rewards.services import reward_stock_adjust

    # given 10 left, 8 members redeeming and 4 staff adding one unit each, all at once
    reward = make_reward(code="LIMITED", stock=10)
    members = [make_member() for _ in range(8)]
    for m in members:
        give_points(m, 500)
    actor = Actor.system("race")

    def work(i):
        if i < 8:
            return redemption_create(
                member=members[i], reward_code="LIMITED", actor=actor
            ).redemption.status
        fresh = Reward.objects.get(pk=reward.pk)
        reward_stock_adjust(reward=fresh, delta=1, reason="delivery", actor=actor)
        return "adjusted"

    results = _race(12, work)

    assert Counter(results) == {"issued": 8, "adjusted": 4}
    assert Reward.objects.get(pk=reward.pk).stock == 10 - 8 + 4
    movements = StockMovement.objects.filter(reward=reward).order_by("id")
    assert sum(m.delta for m in movements) == 6  # 10 (initial) - 8 + 4
    assert movements.last().stock_after == 6
