"""The RFM grid: recency, frequency and monetary scores 1–5 and the named group they fall in.

Scores are quintiles by rank over the members with an order in the RFM window
(`settings.SEGMENTS_RFM_WINDOW_DAYS`, 365 by default):

    score = 1 + 5 × (RANK() OVER (ORDER BY value) − 1) ÷ n        (integer division)

where `value` is the last order's time (recency), the orders in the window (frequency) or the
spend in the window (monetary), and `n` the members scored. Unlike `NTILE(5)`, which would put
equal values on either side of a boundary depending on their ids, members with the same value
always get the same score (the score of the first of them). The same SQL runs on PostgreSQL and
SQLite (window functions: SQLite ≥ 3.25).

The group reads recency against FM = ⌈(F + M) ÷ 2⌉ on the usual 5 × 5 grid:

    R \\ FM    1                 2                   3                   4          5
    5         New               Potential loyalist  Potential loyalist  Champions  Champions
    4         Promising         Potential loyalist  Potential loyalist  Loyal      Loyal
    3         About to sleep    About to sleep      Needs attention     Loyal      Loyal
    2         Hibernating       Hibernating         At risk             At risk    Cannot lose
    1         Lost              Hibernating         At risk             At risk    Cannot lose

`rfm_group_for` (Python) and `RFM_GROUP_SQL` (the refresh) state the grid twice; a test checks
that they agree on all 125 score triples.
"""

from __future__ import annotations

from segments.models import RfmGroup


def fm_score(frequency: int, monetary: int) -> int:
    return (frequency + monetary + 1) // 2


def rfm_group_for(recency: int, frequency: int, monetary: int) -> str:
    r, fm = recency, fm_score(frequency, monetary)
    if r == 5 and fm >= 4:
        return RfmGroup.CHAMPIONS
    if r >= 3 and fm >= 4:
        return RfmGroup.LOYAL
    if r >= 4 and fm >= 2:
        return RfmGroup.POTENTIAL_LOYALIST
    if r == 5:
        return RfmGroup.NEW
    if r == 4:
        return RfmGroup.PROMISING
    if r == 3:
        return RfmGroup.NEEDS_ATTENTION if fm == 3 else RfmGroup.ABOUT_TO_SLEEP
    if fm == 5:
        return RfmGroup.CANNOT_LOSE
    if fm >= 3:
        return RfmGroup.AT_RISK
    if r == 1 and fm == 1:
        return RfmGroup.LOST
    return RfmGroup.HIBERNATING


def rfm_group_sql(r: str, f: str, m: str) -> str:
    """The grid as a SQL CASE over three score expressions (integers)."""
    fm = f"(({f} + {m} + 1) / 2)"
    g = RfmGroup
    return (
        f"CASE WHEN {r} = 5 AND {fm} >= 4 THEN '{g.CHAMPIONS}' "
        f"WHEN {r} >= 3 AND {fm} >= 4 THEN '{g.LOYAL}' "
        f"WHEN {r} >= 4 AND {fm} >= 2 THEN '{g.POTENTIAL_LOYALIST}' "
        f"WHEN {r} = 5 THEN '{g.NEW}' "
        f"WHEN {r} = 4 THEN '{g.PROMISING}' "
        f"WHEN {r} = 3 AND {fm} = 3 THEN '{g.NEEDS_ATTENTION}' "
        f"WHEN {r} = 3 THEN '{g.ABOUT_TO_SLEEP}' "
        f"WHEN {fm} = 5 THEN '{g.CANNOT_LOSE}' "
        f"WHEN {fm} >= 3 THEN '{g.AT_RISK}' "
        f"WHEN {r} = 1 AND {fm} = 1 THEN '{g.LOST}' "
        f"ELSE '{g.HIBERNATING}' END"
    )


def quintile_sql(value: str) -> str:
    """The 1–5 score of `value` by rank among the rows scored (ties share the lower score)."""
    return f"(1 + 5 * (RANK() OVER (ORDER BY {value}) - 1) / COUNT(*) OVER ())"
