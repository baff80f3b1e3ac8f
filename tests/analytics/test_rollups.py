"""Daily rollups: exact figures on a hand-computed program, and equal to a recomputation from the
source tables (run on SQLite and on PostgreSQL).

The program (T = today, every time at 12:00 local; earn rate 1 point per 1.00, pending 14 days):

    M1 enrolled T−10  O1 100.00 at T−10  (100 points)     O2 50.00 at T−2 (50; a repeat buyer)
    M2 enrolled T−3   O3  30.00 at T−3   (30 points)
    guest g1          G1  20.00 at T−3                     G2 10.00 at T−2 (a repeat guest)
    guest g2                                               G3 40.00 at T−2
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal

import pytest
from django.utils import timezone

from analytics.models import DailyRollup, DailyTotals, MonthlyCohort
from analytics.selectors.period import Period, last_days
from analytics.selectors.trends import period_figures, weekly_trends
from analytics.services.refresh import rollups_rebuild, rollups_refresh
from analytics.services.rollups import day_bounds
from feedback.models import Feedback
from feedback.services import feedback_record
from loyalty.models import GuestOrder, Order, Posting, TierChange
from loyalty.services.guests import guest_order_record
from loyalty.services.tier_config import tier_save
from members.models import Member

pytestmark = pytest.mark.django_db

DAY = dt.timedelta(days=1)


def noon(days_ago: int) -> dt.datetime:
    day = timezone.localdate() - days_ago * DAY
    return timezone.make_aware(dt.datetime.combine(day, dt.time(12)))


def guest(order_id: str, key: str, total: str, days_ago: int) -> None:
    guest_order_record(
        order_id=order_id,
        guest_key=key,
        placed_at=noon(days_ago),
        currency="GBP",
        total=Decimal(total),
    )


@pytest.fixture
def small_program(make_member, record_order):
    m1 = make_member(enrolled_at=noon(10))
    m2 = make_member(enrolled_at=noon(3))
    record_order(m1, "O1", "100.00", placed_at=noon(10), now=noon(10))
    record_order(m2, "O3", "30.00", placed_at=noon(3), now=noon(3))
    record_order(m1, "O2", "50.00", placed_at=noon(2), now=noon(2))
    guest("G1", "g1", "20.00", 3)
    guest("G2", "g1", "10.00", 2)
    guest("G3", "g2", "40.00", 2)
    return m1, m2


def _day(days_ago: int) -> dict:
    day = timezone.localdate() - days_ago * DAY
    rows = DailyRollup.objects.filter(day=day)
    fields = ("new_members", "orders", "revenue", "buyers", "repeat_buyers", "earned")
    return {f: sum(getattr(r, f) for r in rows) for f in fields}


def test_rollups_have_the_hand_computed_figures(small_program):
    rollups_rebuild()

    assert _day(10) == {
        "new_members": 1,
        "orders": 1,
        "revenue": Decimal("100.00"),
        "buyers": 1,
        "repeat_buyers": 0,
        "earned": 100,
    }
    assert (_day(3)["orders"], _day(3)["new_members"], _day(3)["earned"]) == (1, 1, 30)
    assert _day(2) == {
        "new_members": 0,
        "orders": 1,
        "revenue": Decimal("50.00"),
        "buyers": 1,
        "repeat_buyers": 1,
        "earned": 50,
    }
    two = DailyTotals.objects.get(day=timezone.localdate() - 2 * DAY)
    assert (two.guest_orders, two.guest_revenue, two.guest_buyers, two.guest_repeat_buyers) == (
        2,
        Decimal("50.00"),
        2,
        1,
    )
    active = dict(DailyTotals.objects.values_list("day", "active_members"))
    today = timezone.localdate()
    assert min(active) == today - 10 * DAY  # no day before the first fact
    assert active[today - 10 * DAY] == 1
    assert active[today - 2 * DAY] == 2
    assert active[today] == 2


def test_the_period_and_its_weeks_read_the_rollups(small_program):
    rollups_rebuild()
    period = last_days(30)

    figures = period_figures(period)
    weeks = weekly_trends(period)

    assert (figures.new_members, figures.orders, figures.revenue) == (2, 3, Decimal("180.00"))
    assert (figures.buyers, figures.repeat_buyers, figures.repeat_rate) == (3, 1, Decimal("33.3"))
    assert (figures.guest_orders, figures.guest_revenue) == (3, Decimal("70.00"))
    assert figures.issued == 180
    assert figures.member_revenue_share == Decimal("72.0")  # 180 ÷ 250
    assert sum(w.issued for w in weeks) == 180
    assert weeks[-1].balance == 180
    assert sum(weeks[-1].tiers.values()) == 2
    assert sum(w.guest_revenue for w in weeks) == Decimal("70.00")


def test_a_back_dated_order_refreshes_the_past_days_it_touched(small_program, record_order):
    m1, _m2 = small_program
    rollups_rebuild()

    # Placed before O1: O1 becomes a repeat purchase, and m1 is active 30 days from T−20.
    record_order(m1, "O0", "10.00", placed_at=noon(20), now=noon(20), retro_credit=True)
    refreshed = rollups_refresh()

    assert refreshed == 21  # T−20 (its day) to today: active for the 30 days from T−20
    assert _day(20)["orders"] == 1
    assert _day(10)["repeat_buyers"] == 1
    active = dict(DailyTotals.objects.values_list("day", "active_members"))
    assert active[timezone.localdate() - 15 * DAY] == 1


def test_a_second_refresh_with_nothing_new_refreshes_only_today(small_program):
    rollups_rebuild()

    assert rollups_refresh() == 1


# --- rollups = recomputation -------------------------------------------------------------------


def _tier_at(changes: list[TierChange], end: dt.datetime) -> int:
    held = 0
    for change in changes:  # sorted by (at, id)
        if change.at < end:
            held = change.to_tier_id or 0
    return held


def _retained(member_id: int, day: dt.date) -> bool:
    """The member ordered again on one of the 90 days after `day`."""
    return any(
        day < timezone.localtime(o.placed_at).date() <= day + 90 * DAY
        for o in Order.objects.filter(member_id=member_id)
    )


def recompute_cohorts() -> dict:
    """`MonthlyCohort` rows straight from the orders: (month, cohort, tier at the month's end or
    today, plan 0) → buyers, orders, revenue."""
    changes = defaultdict(list)
    for c in TierChange.objects.order_by("at", "pk"):
        changes[c.member_id].append(c)
    today = timezone.localdate()
    out: dict = defaultdict(lambda: {"buyers": set(), "orders": 0, "revenue": Decimal(0)})
    for o in Order.objects.select_related("member"):
        month = timezone.localtime(o.placed_at).date().replace(day=1)
        month_end = (month + 32 * DAY).replace(day=1) - DAY
        end = day_bounds(min(month_end, today))[1]
        cohort = timezone.localtime(o.member.enrolled_at).date().replace(day=1)
        row = out[(month, cohort, _tier_at(changes[o.member_id], end), 0)]
        row["buyers"].add(o.member_id)
        row["orders"] += 1
        row["revenue"] += o.eligible_amount
    return {k: (len(v["buyers"]), v["orders"], v["revenue"]) for k, v in out.items()}


def recompute(first: dt.date, last: dt.date) -> dict:
    """Every day's figures by (tier, plan), straight from the rows, in Python."""
    changes = defaultdict(list)
    for c in TierChange.objects.order_by("at", "pk"):
        changes[c.member_id].append(c)
    out: dict = defaultdict(lambda: defaultdict(int))
    day = first
    while day <= last:
        start, end = day_bounds(day)

        def key(member_id, end=end, day=day):
            return (day, _tier_at(changes[member_id], end), 0)

        for p in Posting.objects.filter(effective_at__gte=start, effective_at__lt=end):
            out[key(p.member_id)]["net_change"] += p.points
            if p.kind == "earn":
                out[key(p.member_id)]["earned"] += p.points
            if p.kind == "expire":
                out[key(p.member_id)]["expired"] -= p.points
        buyers = defaultdict(set)
        for o in Order.objects.filter(placed_at__gte=start, placed_at__lt=end):
            out[key(o.member_id)]["orders"] += 1
            out[key(o.member_id)]["revenue"] += o.eligible_amount
            buyers[key(o.member_id)].add(o.member_id)
            if Order.objects.filter(member_id=o.member_id, placed_at__lt=o.placed_at).exists():
                out[key(o.member_id)]["repeat"] += 1
        for k, members in buyers.items():
            out[k]["buyers"] = len(members)
            out[k]["retained_90"] = sum(_retained(m, day) for m in members)
        for f in Feedback.objects.filter(created_at__gte=start, created_at__lt=end):
            if f.scale == "csat":
                out[key(f.member_id)]["csat_responses"] += 1
                out[key(f.member_id)]["csat_total"] += f.score
            else:
                band = {"promoter": "promoters", "passive": "passives", "detractor": "detractors"}
                out[key(f.member_id)][f"nps_{band[f.nps_band]}"] += 1
        enrolled = Member.objects.filter(enrolled_at__gte=start, enrolled_at__lt=end).count()
        if enrolled:
            out[(day, 0, 0)]["new_members"] += enrolled
        day += DAY
    return {k: {f: v for f, v in figures.items() if v} for k, figures in out.items()}


def test_rollups_equal_a_recomputation_from_the_ledger(
    make_member, record_order, record_refund, system_actor
):
    # given: tiers, orders over 40 days, a refund, an upgrade (Silver from 150)
    tier_save(
        actor=system_actor,
        code="bronze",
        name="Bronze",
        rank=0,
        threshold=Decimal(0),
        multiplier=Decimal(1),
    )
    tier_save(
        actor=system_actor,
        code="silver",
        name="Silver",
        rank=1,
        threshold=Decimal(150),
        multiplier=Decimal(2),
    )
    members = [make_member(enrolled_at=noon(40 - n)) for n in range(4)]
    for n, member in enumerate(members):
        for k in range(n + 1):
            placed = noon(35 - 7 * k - n)
            record_order(member, f"R-{n}-{k}", f"{60 + 10 * k}.00", placed_at=placed, now=placed)
    record_refund("R-3-0", "RF-1", "20.00", refunded_at=noon(1), now=noon(1))
    guest("GX", "gx", "15.00", 5)
    for n, (scale, score, days_ago) in enumerate(
        [("nps", 10, 30), ("nps", 7, 30), ("nps", 0, 12), ("csat", 4, 12), ("csat", 2, 0)]
    ):
        feedback_record(
            member=members[n % 4], scale=scale, score=score, actor=system_actor, now=noon(days_ago)
        )

    # when
    rollups_rebuild()

    # then
    today = timezone.localdate()
    expected = recompute(today - 41 * DAY, today)
    found = {}
    for r in DailyRollup.objects.all():
        figures = {
            "net_change": r.net_change,
            "earned": r.earned,
            "expired": r.expired,
            "orders": r.orders,
            "revenue": r.revenue,
            "buyers": r.buyers,
            "repeat": r.repeat_buyers,
            "retained_90": r.retained_90,
            "new_members": r.new_members,
            "nps_promoters": r.nps_promoters,
            "nps_passives": r.nps_passives,
            "nps_detractors": r.nps_detractors,
            "csat_responses": r.csat_responses,
            "csat_total": r.csat_total,
        }
        found[(r.day, r.tier_id, r.plan_id)] = {f: v for f, v in figures.items() if v}
    found = {k: v for k, v in found.items() if v}
    assert found == expected
    assert {
        (c.month, c.cohort, c.tier_id, c.plan_id): (c.buyers, c.orders, c.revenue)
        for c in MonthlyCohort.objects.all()
    } == recompute_cohorts()
    assert GuestOrder.objects.count() == 1
    assert sum(t.guest_orders for t in DailyTotals.objects.all()) == 1


def test_an_empty_program_rebuilds_to_nothing(db):
    assert rollups_rebuild() == 0
    assert period_figures(Period(timezone.localdate(), timezone.localdate())).orders == 0


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_refresh_waits_for_a_twin_replacing_the_same_days(small_program):
    """Thread A replaces day -2's rows and holds its transaction open; thread B replaces the same
    day meanwhile. B waits for A and then replaces A's rows, instead of tripping over the unique
    (day, tier, plan) key on A's uncommitted insert."""
    import threading

    from django.db import connection, transaction

    from analytics.services.rollups import rollup_days_refresh

    day = timezone.localdate() - 2 * DAY
    a_written, errors = threading.Event(), []

    def a():
        try:
            with transaction.atomic():
                rollup_days_refresh(days=[day])
                a_written.set()
                threading.Event().wait(0.5)  # B is now waiting on A (or failing without the lock)
        finally:
            connection.close()

    def b():
        try:
            a_written.wait(timeout=30)
            rollup_days_refresh(days=[day])
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=a), threading.Thread(target=b)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert _day(2) == {
        "new_members": 0,
        "orders": 1,
        "revenue": Decimal("50.00"),
        "buyers": 1,
        "repeat_buyers": 1,
        "earned": 50,
    }
    assert DailyTotals.objects.filter(day=day).count() == 1
