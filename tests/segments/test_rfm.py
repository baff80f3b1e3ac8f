"""RFM: quintiles with ties and the named grid, in SQL (both engines) and Python."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from django.db import connection

from segments.models import MemberStats, RfmGroup
from segments.rfm import quintile_sql, rfm_group_for, rfm_group_sql
from segments.selectors.audit import quintiles
from segments.services.stats import stats_refresh

T = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)

# Ten values with ties: equal values share the score of the first of them.
VALUES = [1, 1, 1, 2, 3, 3, 4, 5, 5, 9]
SCORES = [1, 1, 1, 2, 3, 3, 4, 4, 4, 5]


def test_quintiles_with_ties_in_python():
    assert list(quintiles(dict(enumerate(VALUES))).values()) == SCORES


@pytest.mark.django_db
def test_quintiles_with_ties_in_sql():
    rows = " UNION ALL ".join(f"SELECT {i} AS k, {v} AS v" for i, v in enumerate(VALUES))
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT k, {quintile_sql('v')} FROM ({rows}) t ORDER BY k")
        assert [score for _k, score in cursor.fetchall()] == SCORES


def test_the_grid():
    grid = {r: [rfm_group_for(r, fm, fm) for fm in range(1, 6)] for r in range(5, 0, -1)}
    g = RfmGroup
    assert grid == {
        5: [g.NEW, g.POTENTIAL_LOYALIST, g.POTENTIAL_LOYALIST, g.CHAMPIONS, g.CHAMPIONS],
        4: [g.PROMISING, g.POTENTIAL_LOYALIST, g.POTENTIAL_LOYALIST, g.LOYAL, g.LOYAL],
        3: [g.ABOUT_TO_SLEEP, g.ABOUT_TO_SLEEP, g.NEEDS_ATTENTION, g.LOYAL, g.LOYAL],
        2: [g.HIBERNATING, g.HIBERNATING, g.AT_RISK, g.AT_RISK, g.CANNOT_LOSE],
        1: [g.LOST, g.HIBERNATING, g.AT_RISK, g.AT_RISK, g.CANNOT_LOSE],
    }
    # FM rounds half up: F 4 and M 1 make FM 3.
    assert rfm_group_for(5, 4, 1) == g.POTENTIAL_LOYALIST
    assert rfm_group_for(5, 4, 3) == g.CHAMPIONS
    assert {rfm_group_for(*t) for t in itertools.product(range(1, 6), repeat=3)} == set(g)


@pytest.mark.django_db
def test_the_grid_in_sql_agrees_with_python_on_all_125_triples():
    triples = list(itertools.product(range(1, 6), repeat=3))
    rows = " UNION ALL ".join(f"SELECT {r} AS r, {f} AS f, {m} AS m" for r, f, m in triples)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT r, f, m, {rfm_group_sql('r', 'f', 'm')} FROM ({rows}) t")
        got = {(r, f, m): group for r, f, m, group in cursor.fetchall()}
    assert got == {t: str(rfm_group_for(*t)) for t in triples}


@pytest.mark.django_db
def test_refresh_scores_only_members_with_orders_in_the_window(make_member, record_order, settings):
    settings.SEGMENTS_RFM_WINDOW_DAYS = 30
    recent, old = make_member(), make_member()
    record_order(recent, "O-1", "10.00", placed_at=NOW - dt.timedelta(days=3))
    record_order(old, "O-2", "99.00", placed_at=NOW - dt.timedelta(days=60))
    stats_refresh(now=NOW)
    rows = {
        s.member_id: (s.recency_score, s.frequency_score, s.monetary_score, s.rfm_group)
        for s in MemberStats.objects.all()
    }
    # Alone in the window, the member is first of one: score 1 everywhere, "Lost".
    assert rows == {recent.pk: (1, 1, 1, "lost"), old.pk: (None, None, None, "")}
