"""Races on one membership, on PostgreSQL with real threads and connections.

A barrier releases the threads together; the services take the member's row lock, then the
membership's, so the transitions serialise and the loser sees the winner's committed state.
"""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from django.db import connection

from config.errors import ServiceError
from events.models import Event
from members.actors import Actor
from memberships.models import Membership, MembershipCharge, MembershipPeriod
from memberships.services import membership_cancel, membership_renew, membership_start

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ROUNDS = 6


def _race(works) -> list:
    barrier = threading.Barrier(len(works))
    results: list = [None] * len(works)

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[i] = works[i]()
        except ServiceError as exc:
            results[i] = exc.code
        except Exception as exc:
            results[i] = repr(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(works))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return results


def _types(member) -> list[str]:
    return list(
        Event.objects.filter(member_id=member.pk, type__startswith="membership.")
        .order_by("sequence")
        .values_list("type", flat=True)
    )


def test_renew_and_cancel_now_at_once_serialise_with_a_consistent_history(make_member, plan):
    actor = Actor.system("race")
    orders = Counter()
    for n in range(ROUNDS):
        member = make_member()
        membership = membership_start(
            member=member, plan_code="plus", payment_reference=f"p{n}-1", actor=actor
        )

        renewed, cancelled = _race(
            [
                lambda m=membership, n=n: (
                    membership_renew(membership=m, payment_reference=f"p{n}-2", actor=actor).status
                ),
                lambda m=membership: (
                    membership_cancel(membership=m, at_period_end=False, actor=actor).status
                ),
            ]
        )

        row = Membership.objects.get(pk=membership.pk)
        periods = MembershipPeriod.objects.filter(membership=membership).count()
        payments = MembershipCharge.objects.filter(membership=membership, kind="payment").count()
        assert cancelled == "cancelled"  # a cancellation is legal before and after a renewal
        assert row.status == "cancelled"
        if renewed == "active":  # the renewal went first: paid, then cancelled
            orders["renew first"] += 1
            assert (periods, payments) == (2, 2)
            assert _types(member) == [
                "membership.started",
                "membership.renewed",
                "membership.cancelled",
            ]
        else:  # the cancellation went first: the renewal is refused, nothing written
            orders["cancel first"] += 1
            assert renewed == "invalid_transition"
            assert (periods, payments) == (1, 1)
            assert _types(member) == ["membership.started", "membership.cancelled"]
    assert sum(orders.values()) == ROUNDS


def test_two_starts_at_once_make_one_membership(make_member, plan):
    actor = Actor.system("race")
    member = make_member()

    results = _race(
        [
            lambda i=i: (
                membership_start(
                    member=member, plan_code="plus", payment_reference=f"p-{i}", actor=actor
                ).status
            )
            for i in range(4)
        ]
    )

    assert Counter(results) == {"active": 1, "already_member": 3}
    assert Membership.objects.filter(member=member).count() == 1
    assert MembershipCharge.objects.filter(membership__member=member).count() == 1
    assert _types(member) == ["membership.started"]


def test_two_renewals_at_once_pay_two_consecutive_periods(make_member, plan):
    actor = Actor.system("race")
    member = make_member()
    membership = membership_start(
        member=member, plan_code="plus", payment_reference="p-0", actor=actor
    )

    results = _race(
        [
            lambda i=i: (
                membership_renew(
                    membership=membership, payment_reference=f"p-{i + 1}", actor=actor
                ).status
            )
            for i in range(2)
        ]
    )

    assert results == ["active", "active"]
    periods = list(MembershipPeriod.objects.filter(membership=membership).order_by("number"))
    assert [p.number for p in periods] == [1, 2, 3]
    assert periods[1].starts_at == periods[0].ends_at
    assert periods[2].starts_at == periods[1].ends_at
    assert Membership.objects.get(pk=membership.pk).current_period_end == periods[2].ends_at
