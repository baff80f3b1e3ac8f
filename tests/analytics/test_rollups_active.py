"""Active members and points reaching expiry, as the rollups count them: the PostgreSQL statement
and the Python pass give the same counts, day boundaries in the program's time zone included."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from analytics.services.rollups import (
    _active_deltas,
    _active_deltas_sql,
    active_members,
    day_bounds,
    expiry_reached,
)

pytestmark = pytest.mark.django_db

DAY = dt.timedelta(days=1)


def at(days_ago: int, hour: int, minute: int = 0) -> dt.datetime:
    day = timezone.localdate() - days_ago * DAY
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour, minute)))


@pytest.fixture
def orders(make_member, record_order):
    # given: a member buying on days -45, -44 (a minute either side of local midnight) and -30;
    # another on day -50 and twice on day -10 (40 days apart: two active spans)
    m1 = make_member(enrolled_at=at(60, 9))
    m2 = make_member(enrolled_at=at(60, 9))
    for member, order_id, moment in (
        (m1, "A1", at(45, 23, 59)),
        (m1, "A2", at(44, 0, 1)),
        (m1, "A3", at(30, 12)),
        (m2, "B1", at(50, 0, 0)),
        (m2, "B2", at(10, 23, 59)),
        (m2, "B3", at(10, 23, 59)),
    ):
        record_order(member, order_id, "10.00", placed_at=moment, now=moment)


def test_active_members_by_day(orders):
    days = [timezone.localdate() - n * DAY for n in (50, 45, 44, 30, 21, 20, 15, 10, 0)]

    counts = active_members(days)

    assert [counts[d] for d in days] == [1, 2, 2, 2, 2, 1, 1, 2, 1]


@pytest.mark.postgres
def test_the_statement_counts_what_the_python_pass_counts(orders):
    start, end = day_bounds(timezone.localdate() - 70 * DAY)[0], day_bounds(timezone.localdate())[1]

    by_sql = {d: n for d, n in _active_deltas_sql(start, end).items() if n}
    by_python = {d: n for d, n in _active_deltas(start, end).items() if n}

    assert by_sql == by_python


def test_points_reaching_expiry_are_grouped_by_local_day(orders):
    from loyalty.models import Lot

    days = sorted({timezone.localtime(lot.expires_at).date() for lot in Lot.objects.all()})

    reached = expiry_reached(days)

    expected = {}
    for lot in Lot.objects.all():
        day = timezone.localtime(lot.expires_at).date()
        expected[day] = expected.get(day, 0) + lot.points
    assert reached == expected
