"""Member statistics: the nightly refresh against the orders, refunds and a recomputation."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from events.models import Event
from loyalty import hooks
from segments.models import MemberProduct, MemberStats, StatsRefresh
from segments.selectors.audit import member_statistics_audit
from segments.selectors.stats import member_stats_view
from segments.services.stats import stats_refresh

pytestmark = pytest.mark.django_db

T = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)


def _items(*pairs):
    return [{"sku": s, "category": c, "quantity": 1, "unit_price": "10.00"} for s, c in pairs]


def test_refresh_writes_exact_figures_after_orders_and_refunds(
    make_member, record_order, record_refund
):
    # given: two orders a year apart, a partial refund, and a member with no order
    ada, bob = make_member(), make_member()
    old = T - dt.timedelta(days=400)
    record_order(ada, "O-1", "50.00", placed_at=old, items=_items(("MUG", "Kitchen")))
    record_order(
        ada, "O-2", "120.00", placed_at=T, items=_items(("LAMP", "Home & Garden"), ("MUG", ""))
    )
    record_refund("O-2", "R-1", "20.00", now=T + dt.timedelta(days=1))
    # when
    report = stats_refresh(now=NOW)
    # then
    assert report.members == 2
    row = MemberStats.objects.get(member=ada)
    assert (row.first_order_at, row.last_order_at) == (old, T)
    assert (row.orders_count, row.spend_lifetime) == (2, Decimal("150.00"))
    assert (row.orders_365, row.spend_365) == (1, Decimal("100.00"))
    assert (row.rfm_orders, row.rfm_spend) == (1, Decimal("100.00"))
    empty = MemberStats.objects.get(member=bob)
    assert (empty.orders_count, empty.spend_lifetime, empty.last_order_at) == (
        0,
        Decimal("0"),
        None,
    )
    assert (empty.recency_score, empty.rfm_group) == (None, "")
    products = set(MemberProduct.objects.filter(member=ada).values_list("kind", "value"))
    assert products == {("s", "MUG"), ("s", "LAMP"), ("c", "Kitchen"), ("c", "Home & Garden")}
    view = member_stats_view(member=ada, now=NOW)
    assert view["average_order"] == Decimal("75.00")
    assert view["days_since_last_order"] == 92
    assert member_statistics_audit().mismatches == []


def test_refresh_is_incremental_for_products_and_full_relists(make_member, record_order):
    ada = make_member()
    record_order(ada, "O-1", "10.00", placed_at=T, items=_items(("A", "")))
    stats_refresh(now=NOW)
    record_order(ada, "O-2", "10.00", placed_at=T, items=_items(("B", "")))
    stats_refresh(now=NOW)
    assert sorted(MemberProduct.objects.values_list("value", flat=True)) == ["A", "B"]
    assert StatsRefresh.objects.count() == 2
    MemberProduct.objects.filter(value="A").delete()
    assert member_statistics_audit().mismatches == [
        f"member {ada.pk}: products bought [('s', 'B')], orders give [('s', 'A'), ('s', 'B')]"
    ]
    stats_refresh(now=NOW, full=True)
    assert sorted(MemberProduct.objects.values_list("value", flat=True)) == ["A", "B"]


def test_audit_reports_drift_and_counts_stale_members(make_member, record_order):
    ada, bob = make_member(), make_member()
    record_order(ada, "O-1", "40.00", placed_at=T)
    stats_refresh(now=NOW)
    MemberStats.objects.filter(member=ada).update(spend_lifetime=Decimal("41.00"))
    report = member_statistics_audit()
    assert report.mismatches == [f"member {ada.pk}: spend_lifetime is 41.00, orders give 40.00"]
    with pytest.raises(CommandError):
        call_command("audit_member_statistics")
    # An order after the refresh makes the member stale, not a mismatch.
    record_order(bob, "O-2", "10.00", placed_at=T, now=NOW + dt.timedelta(hours=1))
    stats_refresh(now=NOW)
    record_order(bob, "O-3", "10.00", placed_at=T, now=NOW + dt.timedelta(hours=1))
    report = member_statistics_audit()
    assert (report.mismatches, report.stale, report.members) == ([], 1, 2)


def test_statistics_after_an_import_match_a_recomputation(make_member, record_order):
    ada = make_member()
    record_order(ada, "I-1", "30.00", placed_at=T, source="import", items=_items(("X", "Toys")))
    call_command("refresh_member_statistics")
    row = MemberStats.objects.get(member=ada)
    assert (row.orders_count, row.spend_lifetime) == (1, Decimal("30.00"))
    assert member_statistics_audit().ok


def test_daily_jobs_run_the_refresh_step(make_member, record_order):
    from loyalty.services.jobs import daily_jobs_run

    assert "member_statistics" in [name for name, _ in hooks.daily_job_steps]
    ada = make_member()
    record_order(ada, "O-1", "10.00", placed_at=T)
    report = daily_jobs_run()
    assert report.steps["member_statistics"] == 1
    assert MemberStats.objects.get(member=ada).orders_count == 1


def test_rfm_group_changes_emit_exited_then_entered_once(make_member, record_order):
    members = [make_member() for _ in range(5)]
    for n, member in enumerate(members):
        for k in range(n + 1):
            placed = T + dt.timedelta(days=n)
            record_order(member, f"O-{n}-{k}", f"{10 * (n + 1)}.00", placed_at=placed)
    stats_refresh(now=NOW)
    groups = dict(MemberStats.objects.values_list("member_id", "rfm_group"))
    assert [groups[m.pk] for m in members] == [
        "lost",
        "hibernating",
        "needs_attention",
        "loyal",
        "champions",
    ]
    entered = Event.objects.filter(type="segment.entered").order_by("member_id")
    assert [(e.member_id, e.payload["segment"]) for e in entered] == [
        (m.pk, f"rfm:{groups[m.pk]}") for m in members
    ]
    assert not Event.objects.filter(type="segment.exited").exists()
    # The same night again: nothing changes, nothing is emitted.
    stats_refresh(now=NOW)
    assert Event.objects.filter(type__startswith="segment.").count() == 5
    # A big order moves the lost member up: exited, then entered, in that order.
    record_order(members[0], "O-big", "1000.00", placed_at=NOW - dt.timedelta(days=1), now=NOW)
    stats_refresh(now=NOW)
    moved = list(Event.objects.filter(member_id=members[0].pk).order_by("sequence"))
    assert [(e.type, e.payload["segment"]) for e in moved if e.type.startswith("segment.")] == [
        ("segment.entered", "rfm:lost"),
        ("segment.exited", "rfm:lost"),
        ("segment.entered", f"rfm:{MemberStats.objects.get(member=members[0]).rfm_group}"),
    ]


def test_a_night_with_nothing_new_rewrites_no_row(make_member, record_order):
    """Rows whose figures come out the same are kept (with the run that last changed them); a
    member whose group changed is brought level the next night without a second event."""
    ada, bob = make_member(), make_member()
    record_order(ada, "O-1", "10.00", placed_at=T)
    record_order(bob, "O-2", "90.00", placed_at=T + dt.timedelta(days=1))
    assert stats_refresh(now=NOW).members == 2
    later = NOW + dt.timedelta(hours=1)
    assert stats_refresh(now=later).members == 2  # previous_rfm_group brought level: no event
    assert stats_refresh(now=later + dt.timedelta(hours=1)).members == 0
    rows = MemberStats.objects.order_by("member_id")
    assert [(r.refreshed_at, r.rfm_group, r.previous_rfm_group) for r in rows] == [
        (later, "lost", "lost"),
        (later, "about_to_sleep", "about_to_sleep"),
    ]
    assert Event.objects.filter(type__startswith="segment.").count() == 2
    # A small back-dated order for Ada changes her figures and no one's ranks but hers: only her
    # row is rewritten (a big one would move Bob's relative scores too).
    record_order(ada, "O-3", "1.00", placed_at=T - dt.timedelta(days=1), now=NOW)
    assert stats_refresh(now=NOW + dt.timedelta(hours=4)).members == 1
    assert MemberStats.objects.get(member=bob).refreshed_at == later
    assert member_statistics_audit().ok
