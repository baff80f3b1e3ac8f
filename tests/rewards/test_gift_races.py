"""Gift coupons against stock under concurrency, on PostgreSQL with real threads: never past the
stock, each key once (the races of `tests/rewards/test_concurrency.py`, for gifts)."""

from __future__ import annotations

from collections import Counter

import pytest

from members.actors import Actor
from rewards.models import Redemption, Reward, StockMovement
from rewards.services import gift_grant
from tests.rewards.test_concurrency import _race

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_many_gifts_at_once_against_a_small_stock_never_pass_it(make_member, make_reward):
    # given 4 left and 16 members each with their own trigger
    k, n = 4, 16
    reward = make_reward(code="CAKE", stock=k)
    members = [make_member() for _ in range(n)]
    actor = Actor.system("race")

    # when every gift is granted at once
    results = _race(
        n,
        lambda i: (
            gift_grant(
                member=members[i],
                reward=reward,
                cause="campaign:BDAY",
                key=f"gift-{i}",
                actor=actor,
            ).outcome
        ),
    )

    # then exactly k were given, the others found no stock, and the stock is 0, never below
    assert Counter(results) == {"given": k, "out_of_stock": n - k}
    assert Reward.objects.get(pk=reward.pk).stock == 0
    assert Redemption.objects.filter(reward=reward).count() == k
    assert StockMovement.objects.filter(reward=reward, kind="redemption").count() == k


def test_one_trigger_replayed_at_once_gives_once(make_member, make_reward):
    # given plenty of stock and one member's trigger sent 8 times at once
    n = 8
    reward = make_reward(code="CAKE", stock=50)
    member = make_member()
    actor = Actor.system("race")

    results = _race(
        n,
        lambda i: (
            gift_grant(
                member=member, reward=reward, cause="campaign:BDAY", key="same-key", actor=actor
            ).outcome
        ),
    )

    assert Counter(results) == {"given": 1, "already_given": n - 1}
    assert Redemption.objects.filter(member=member).count() == 1
    assert Reward.objects.get(pk=reward.pk).stock == 49


def test_two_causes_racing_one_member_and_the_last_unit(make_member, make_reward):
    # given 1 left and, for each of 6 members, two different triggers at once
    reward = make_reward(code="CAKE", stock=1)
    members = [make_member() for _ in range(6)]
    actor = Actor.system("race")

    results = _race(
        12,
        lambda i: (
            gift_grant(
                member=members[i % 6], reward=reward, cause="c", key=f"k-{i}", actor=actor
            ).outcome
        ),
    )

    assert Counter(results) == {"given": 1, "out_of_stock": 11}
    assert Reward.objects.get(pk=reward.pk).stock == 0
