"""PostgreSQL, real threads: a member's event numbers stay 1, 2, 3... without a gap or a twin
when their writers race, whether or not they hold the member's account lock (an order and an
adjustment do, a contact change does not), and a writer that rolls back gives its number back."""

from __future__ import annotations

import threading

import pytest
from django.db import connections, transaction

from events.models import Event
from loyalty.services.points import points_adjust_post
from members import services as member_services
from members.actors import Actor
from members.models import Member
from tests.conftest import ENROLLED_AT
from tests.loyalty.conftest import T0

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
SYSTEM = Actor.system("tests")


def _at_once(works) -> list:
    barrier = threading.Barrier(len(works))
    results: list = [None] * len(works)

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[i] = works[i]()
        except Exception as exc:  # reported to the test, which asserts on it
            results[i] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(works))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


class Abandoned(Exception):
    pass


def test_racing_writers_number_a_members_events_without_gaps(record_order):
    member = member_services.member_enrol(
        external_id="C-1", email="c1@example.com", actor=SYSTEM, enrolled_at=ENROLLED_AT
    )  # enrolled before its orders (an earlier order needs retro credit)

    def fresh() -> Member:  # each thread its own instance (the services change it)
        return Member.objects.get(pk=member.pk)

    def abandon() -> None:
        with transaction.atomic():
            member_services.member_update(member=fresh(), actor=SYSTEM, last_name="Gone")
            raise Abandoned

    works = (
        [lambda n=n: record_order(member, f"O-{n}", "10.00", placed_at=T0) for n in range(4)]
        + [
            lambda n=n: points_adjust_post(
                member=member, points=5, reason="r", actor=SYSTEM, idempotency_key=f"k{n}"
            )
            for n in range(3)
        ]
        + [lambda n=n: member_services.member_update(member=fresh(), actor=SYSTEM, phone=f"{n}")
           for n in range(3)]
        + [abandon, abandon]
    )  # fmt: skip

    results = _at_once(works)

    assert [type(r).__name__ for r in results[-2:]] == ["Abandoned", "Abandoned"]
    assert not [r for r in results[:-2] if isinstance(r, Exception)]
    events = list(Event.objects.filter(member_id=member.pk).order_by("sequence"))
    assert [e.sequence for e in events] == list(range(1, 12))  # enrolled + 10 that committed
    assert sorted(e.type for e in events) == sorted(
        ["member.enrolled"] + ["points.earned"] * 4 + ["points.adjusted"] * 3
        + ["member.updated"] * 3
    )  # fmt: skip
