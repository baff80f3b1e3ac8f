"""Budgets as striped counters (`campaigns.services.budget`): exact, and no row every order
waits for.

- An award takes from its member's stripe, else from the others in stripe order: it gets
  min(points wanted, budget left), exactly as from one counter.
- Staff changing a budget spread what is left over the stripes again; a budget cannot go below
  what was awarded.
- PostgreSQL, real connections: 50 concurrent orders against a small budget award exactly the
  budget; an unbudgeted campaign's orders do not wait for a lock on the campaign row; two
  members on different stripes do not wait for each other.
"""

from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal

import pytest
from django.db import connection, connections, transaction

from campaigns.models import Campaign, CampaignAward, CampaignBudgetStripe
from campaigns.selectors import campaign_budget_left, campaign_points_awarded
from campaigns.services.budget import STRIPES, budget_shares, budget_take
from config.errors import ServiceError
from loyalty.models import Posting
from loyalty.services.orders import order_record
from tests.campaigns.factories import make_campaign

FRIDAY = dt.datetime(2026, 1, 9, 10, 0, tzinfo=dt.UTC)


def stripes(campaign) -> list[tuple[int, int]]:
    """(budget_points, points_awarded) per stripe, in stripe order."""
    return list(
        CampaignBudgetStripe.objects.filter(campaign=campaign)
        .order_by("stripe")
        .values_list("budget_points", "points_awarded")
    )


def test_a_budget_is_spread_evenly_over_the_stripes(db):
    campaign = make_campaign("capped", "multiplier", multiplier=Decimal("2.00"), budget_points=250)

    assert STRIPES == 8
    assert stripes(campaign) == [
        (32, 0),
        (32, 0),
        (31, 0),
        (31, 0),
        (31, 0),
        (31, 0),
        (31, 0),
        (31, 0),
    ]
    assert budget_shares(5, 8) == [1, 1, 1, 1, 1, 0, 0, 0]


def test_an_unbudgeted_campaign_has_no_stripes_and_sums_its_awards(member, record_order):
    campaign = make_campaign("double", "multiplier", multiplier=Decimal("2.00"))

    record_order(member, "O-1", "40.00", placed_at=FRIDAY)
    record_order(member, "O-2", "60.00", placed_at=FRIDAY)

    assert stripes(campaign) == []
    assert (
        campaign_points_awarded(campaign=campaign),
        campaign_budget_left(campaign=campaign),
    ) == (
        100,
        None,
    )


def test_an_award_its_stripe_covers_takes_from_that_stripe_only(member, record_order):
    campaign = make_campaign("capped", "multiplier", multiplier=Decimal("2.00"), budget_points=800)

    record_order(member, "O-1", "30.00", placed_at=FRIDAY)

    own = member.pk % STRIPES
    assert [awarded for _, awarded in stripes(campaign)] == [
        30 if i == own else 0 for i in range(STRIPES)
    ]


def test_an_award_its_stripe_cannot_cover_takes_from_the_stripes_in_order(member, record_order):
    campaign = make_campaign("capped", "multiplier", multiplier=Decimal("2.00"), budget_points=800)

    result = record_order(member, "O-1", "250.00", placed_at=FRIDAY)

    # 100 per stripe: the first three stripes give 100 + 100 + 50.
    assert result.campaign_bonus == [("capped", 250)]
    assert [awarded for _, awarded in stripes(campaign)] == [100, 100, 50, 0, 0, 0, 0, 0]
    assert campaign_budget_left(campaign=campaign) == 550


def test_the_last_award_gets_what_is_left_of_every_stripe(make_member, record_order):
    campaign = make_campaign("capped", "multiplier", multiplier=Decimal("2.00"), budget_points=80)
    a, b = make_member(), make_member()

    first = record_order(a, "O-1", "70.00", placed_at=FRIDAY)
    second = record_order(b, "O-2", "70.00", placed_at=FRIDAY)
    third = record_order(a, "O-3", "70.00", placed_at=FRIDAY)

    assert [r.campaign_bonus for r in (first, second, third)] == [
        [("capped", 70)],
        [("capped", 10)],
        [],
    ]
    assert stripes(campaign) == [(10, 10)] * STRIPES
    assert campaign_points_awarded(campaign=campaign) == 80


def test_budget_take_never_grants_more_than_is_left(db, member):
    campaign = make_campaign("capped", "multiplier", multiplier=Decimal("2.00"), budget_points=20)

    with transaction.atomic():
        granted = [budget_take(campaign=campaign, member_id=member.pk, points=8) for _ in range(4)]

    assert granted == [8, 8, 4, 0]
    # Not an award (no posting): put the stripes back so the budgets' audit holds.
    CampaignBudgetStripe.objects.filter(campaign=campaign).update(points_awarded=0)


def test_raising_a_budget_spreads_what_is_left_again(make_member, record_order, system_actor):
    from campaigns.services.manage import campaign_save

    campaign = make_campaign("capped", "multiplier", multiplier=Decimal("2.00"), budget_points=80)
    record_order(make_member(), "O-1", "70.00", placed_at=FRIDAY)

    campaign.budget_points = 170
    campaign_save(campaign=campaign, actor=system_actor)

    # 70 awarded stays where it was taken; the 100 left is spread again: 13 × 4 + 12 × 4.
    rows = stripes(campaign)
    assert sum(b for b, _ in rows) == 170
    assert sum(a for _, a in rows) == 70
    assert sorted(b - a for b, a in rows) == [12] * 4 + [13] * 4
    assert campaign_budget_left(campaign=campaign) == 100


def test_a_budget_set_later_counts_what_was_awarded_and_can_be_removed(
    member, record_order, system_actor
):
    from campaigns.services.manage import campaign_save

    campaign = make_campaign("double", "multiplier", multiplier=Decimal("2.00"))
    record_order(member, "O-1", "70.00", placed_at=FRIDAY)

    campaign.budget_points = 100
    campaign_save(campaign=campaign, actor=system_actor)
    capped = record_order(member, "O-2", "70.00", placed_at=FRIDAY)
    campaign.budget_points = None
    campaign_save(campaign=campaign, actor=system_actor)
    free = record_order(member, "O-3", "70.00", placed_at=FRIDAY)

    assert (capped.campaign_bonus, free.campaign_bonus) == ([("double", 30)], [("double", 70)])
    assert stripes(campaign) == []
    assert campaign_points_awarded(campaign=campaign) == 170


def test_a_budget_below_what_was_awarded_is_refused_and_nothing_changes(
    member, record_order, system_actor
):
    from campaigns.services.manage import campaign_save

    campaign = make_campaign("capped", "multiplier", multiplier=Decimal("2.00"), budget_points=800)
    record_order(member, "O-1", "250.00", placed_at=FRIDAY)
    before = stripes(campaign)

    campaign.budget_points = 200
    with pytest.raises(ServiceError) as caught:
        campaign_save(campaign=campaign, actor=system_actor)

    assert (caught.value.code, caught.value.errors[0]["field"]) == (
        "validation_error",
        "budget_points",
    )
    assert stripes(campaign) == before
    assert Campaign.objects.get(pk=campaign.pk).budget_points == 800


# --- PostgreSQL, real connections ------------------------------------------------------------


def _concurrently(n: int, work) -> tuple[list, list]:
    """`work(i)` in n threads, each on its own connection, started together."""
    barrier = threading.Barrier(n)
    results, errors = [None] * n, []

    def run(i):
        try:
            barrier.wait()
            results[i] = work(i)
        except Exception as exc:  # collected and asserted by the caller
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results, errors


def _order(member, order_id: str, total: str, actor):
    return order_record(
        order_id=order_id,
        member=member,
        placed_at=FRIDAY,
        currency="GBP",
        total=Decimal(total),
        actor=actor,
        now=FRIDAY,
    ).campaign_bonus


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_50_concurrent_orders_award_exactly_a_small_budget(make_member, system_actor):
    campaign = make_campaign(
        "capped", "multiplier", multiplier=Decimal("2.00"), budget_points=1_000
    )
    members = [make_member() for _ in range(50)]
    # 50 orders of 13.00 to 61.00 (varied, so awards straddle stripes): demand 1,679 > 1,000.
    totals = [f"{13 + (i * 7) % 49}.00" for i in range(50)]

    results, errors = _concurrently(
        50, lambda i: _order(members[i], f"O-{i}", totals[i], system_actor)
    )

    assert errors == []
    wanted = [int(Decimal(t)) for t in totals]
    granted = [sum(p for _, p in bonus) for bonus in results]
    assert sum(wanted) == 1_679
    assert sum(granted) == 1_000
    # Every award is whole but at most one, which got exactly what was left.
    cut = [(w, g) for w, g in zip(wanted, granted, strict=True) if g not in (0, w)]
    assert len(cut) <= 1
    assert stripes(campaign) == [(b, b) for b, _ in stripes(campaign)]
    assert campaign_points_awarded(campaign=campaign) == 1_000
    bonus_postings = Posting.objects.filter(kind="campaign_bonus", campaign_code="capped")
    assert sum(bonus_postings.values_list("points", flat=True)) == 1_000
    assert sorted(CampaignAward.objects.values_list("points", flat=True)) == sorted(
        g for g in granted if g
    )


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_50_concurrent_orders_within_the_budget_all_get_their_whole_bonus(
    make_member, system_actor
):
    campaign = make_campaign(
        "capped", "multiplier", multiplier=Decimal("2.00"), budget_points=5_000
    )
    members = [make_member() for _ in range(50)]

    results, errors = _concurrently(
        50, lambda i: _order(members[i], f"O-{i}", "70.00", system_actor)
    )

    assert errors == []
    assert results == [[("capped", 70)]] * 50
    assert campaign_budget_left(campaign=campaign) == 5_000 - 3_500


def _held_in_another_transaction(sql: str, params: list):
    """Run `sql` in a transaction on a second connection, kept open until the returned
    function is called (then rolled back)."""
    started, release = threading.Event(), threading.Event()

    def hold():
        other = connections.create_connection("default")
        try:
            with other.cursor() as cursor:
                cursor.execute("BEGIN")
                cursor.execute(sql, params)
                started.set()
                release.wait(30)
                cursor.execute("ROLLBACK")
        finally:
            other.close()

    thread = threading.Thread(target=hold)
    thread.start()
    assert started.wait(30)

    def done():
        release.set()
        thread.join()

    return done


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_an_unbudgeted_campaign_takes_no_lock_on_its_row(member, system_actor):
    # An update of the campaign row in flight (staff saving it) no longer holds orders up; with a
    # lock per award they waited for it.
    campaign = make_campaign("double", "multiplier", multiplier=Decimal("2.00"))
    done = _held_in_another_transaction(
        "SELECT 1 FROM campaigns_campaign WHERE id = %s FOR NO KEY UPDATE", [campaign.pk]
    )
    try:
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '500ms'")
        bonus = _order(member, "O-1", "70.00", system_actor)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET lock_timeout")
        done()

    assert bonus == [("double", 70)]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_orders_of_members_on_different_stripes_do_not_wait_for_each_other(
    make_member, system_actor
):
    campaign = make_campaign("capped", "multiplier", multiplier=Decimal("2.00"), budget_points=800)
    members = [make_member() for _ in range(2)]
    a, b = members if members[0].pk % STRIPES != members[1].pk % STRIPES else (members[0], None)
    assert b is not None  # consecutive ids are on different stripes
    # Member a's stripe is locked by an award still in flight.
    done = _held_in_another_transaction(
        "UPDATE campaigns_campaignbudgetstripe SET points_awarded = points_awarded + 1 "
        "WHERE campaign_id = %s AND stripe = %s",
        [campaign.pk, a.pk % STRIPES],
    )
    try:
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '500ms'")
        bonus = _order(b, "O-1", "70.00", system_actor)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET lock_timeout")
        done()

    assert bonus == [("capped", 70)]


def test_the_budgets_audit_reports_a_stripe_out_of_step_and_exits_non_zero(
    member, record_order, capsys
):
    from django.core.management import call_command
    from django.core.management.base import CommandError

    campaign = make_campaign("capped", "multiplier", multiplier=Decimal("2.00"), budget_points=800)
    record_order(member, "O-1", "30.00", placed_at=FRIDAY)
    call_command("audit_campaign_budgets")
    assert capsys.readouterr().out == "Campaign budgets OK.\n"

    other = (member.pk + 1) % STRIPES  # not the stripe the award took from
    stripe = CampaignBudgetStripe.objects.filter(campaign=campaign, stripe=other)
    stripe.update(points_awarded=5)  # points counted against the budget with no award behind
    with pytest.raises(CommandError):
        call_command("audit_campaign_budgets")

    assert capsys.readouterr().err == "MISMATCH campaign capped: stripes awarded 35 != awards 30\n"
    stripe.update(points_awarded=0)  # the fixture's own audit runs after the test
