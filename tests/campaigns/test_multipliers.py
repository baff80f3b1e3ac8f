import datetime as dt
from decimal import Decimal

import pytest

from campaigns.models import Campaign, CampaignAward
from campaigns.selectors import campaign_points_awarded
from loyalty.models import Posting
from tests.campaigns.factories import make_campaign

# 2026-01-09 is a Friday; 10:00 UTC is 10:00 in London in winter.
FRIDAY = dt.datetime(2026, 1, 9, 10, 0, tzinfo=dt.UTC)
SATURDAY = FRIDAY + dt.timedelta(days=1)


def test_double_points_friday_adds_one_bonus_posting_naming_the_campaign(member, record_order):
    make_campaign("double-fridays", "multiplier", multiplier=Decimal("2.00"), weekdays=[5])

    result = record_order(member, "O-1", "120.50", placed_at=FRIDAY)

    assert (result.base, result.campaign_bonus, result.total) == (
        120,
        [("double-fridays", 120)],
        240,
    )
    bonus = Posting.objects.get(kind="campaign_bonus")
    assert (bonus.campaign_code, bonus.points, bonus.available_at) == (
        "double-fridays",
        120,
        FRIDAY + dt.timedelta(days=14),
    )
    assert CampaignAward.objects.get().reference == "order:O-1"
    assert campaign_points_awarded(campaign=Campaign.objects.get(code="double-fridays")) == 120


def test_a_weekday_campaign_does_not_apply_on_other_days(member, record_order):
    make_campaign("double-fridays", "multiplier", multiplier=Decimal("2.00"), weekdays=[5])

    result = record_order(member, "O-1", "100.00", placed_at=SATURDAY)

    assert (result.campaign_bonus, result.total) == ([], 100)


def test_the_member_day_applies_on_its_day_of_the_month_only(member, record_order):
    make_campaign("member-day", "multiplier", multiplier=Decimal("3.00"), day_of_month=9)

    on_day = record_order(member, "O-1", "10.00", placed_at=FRIDAY)
    next_day = record_order(member, "O-2", "10.00", placed_at=SATURDAY)

    assert (on_day.campaign_bonus, next_day.campaign_bonus) == ([("member-day", 20)], [])


def test_the_window_bounds_a_campaign(member, record_order):
    make_campaign(
        "january",
        "multiplier",
        multiplier=Decimal("2.00"),
        starts_at=FRIDAY,
        ends_at=FRIDAY + dt.timedelta(hours=1),
    )

    before = record_order(member, "O-1", "10.00", placed_at=FRIDAY - dt.timedelta(minutes=1))
    inside = record_order(member, "O-2", "10.00", placed_at=FRIDAY)
    after = record_order(member, "O-3", "10.00", placed_at=FRIDAY + dt.timedelta(hours=1))

    assert [r.campaign_bonus for r in (before, inside, after)] == [[], [("january", 10)], []]


def test_a_category_campaign_counts_only_those_items(member, record_order):
    make_campaign("tea-week", "multiplier", multiplier=Decimal("2.00"), categories=["tea"])
    items = [
        {"sku": "T1", "category": "tea", "quantity": 3, "unit_price": "4.50"},
        {"sku": "M1", "category": "mugs", "quantity": 1, "unit_price": "20.00"},
    ]

    result = record_order(member, "O-1", "33.50", placed_at=FRIDAY, items=items)

    # base 33; the tea items are 13.50 → 13 base points → 13 bonus at ×2
    assert (result.base, result.campaign_bonus) == (33, [("tea-week", 13)])


def test_bonuses_from_several_campaigns_add_up(member, record_order):
    make_campaign("double-fridays", "multiplier", multiplier=Decimal("2.00"), weekdays=[5])
    make_campaign("member-day", "multiplier", multiplier=Decimal("1.50"), day_of_month=9)

    result = record_order(member, "O-1", "100.00", placed_at=FRIDAY)

    assert result.campaign_bonus == [("double-fridays", 100), ("member-day", 50)]
    assert result.total == 250
    assert Posting.objects.filter(kind="campaign_bonus").count() == 2


def test_the_budget_stops_the_campaign_exactly_at_the_budget(make_member, record_order):
    make_campaign("capped", "multiplier", multiplier=Decimal("2.00"), budget_points=250)
    a, b, c = make_member(), make_member(), make_member()

    first = record_order(a, "O-1", "100.00", placed_at=FRIDAY)
    second = record_order(b, "O-2", "100.00", placed_at=FRIDAY)
    third = record_order(c, "O-3", "100.00", placed_at=FRIDAY)

    assert [r.campaign_bonus for r in (first, second, third)] == [
        [("capped", 100)],
        [("capped", 100)],
        [("capped", 50)],
    ]
    assert record_order(a, "O-4", "100.00", placed_at=FRIDAY).campaign_bonus == []
    assert campaign_points_awarded(campaign=Campaign.objects.get(code="capped")) == 250


def test_the_per_member_limit_caps_awards_per_member(member, record_order):
    make_campaign("twice", "multiplier", multiplier=Decimal("2.00"), per_member_limit=2)

    bonuses = [
        record_order(member, f"O-{i}", "10.00", placed_at=FRIDAY).campaign_bonus for i in range(3)
    ]

    assert bonuses == [[("twice", 10)], [("twice", 10)], []]


def test_a_refund_reverses_the_campaign_bonus_with_the_order(member, record_order, record_refund):
    make_campaign("double-fridays", "multiplier", multiplier=Decimal("2.00"), weekdays=[5])
    record_order(member, "O-1", "100.00", placed_at=FRIDAY)

    refund = record_refund("O-1", "R-1", "50.00", now=FRIDAY + dt.timedelta(days=1)).refund

    assert refund.points_reversed == 100  # floor(200 × 50 / 100)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_budget_holds_under_20_concurrent_orders(make_member, system_actor):
    import threading

    from django.db import connection

    from loyalty.services.orders import order_record

    make_campaign("capped", "multiplier", multiplier=Decimal("2.00"), budget_points=1_000)
    members = [make_member() for _ in range(20)]
    barrier = threading.Barrier(20)
    results, errors = [], []

    def place(i):
        try:
            barrier.wait()
            results.append(
                order_record(
                    order_id=f"O-{i}",
                    member=members[i],
                    placed_at=FRIDAY,
                    currency="GBP",
                    total=Decimal("70.00"),
                    actor=system_actor,
                    now=FRIDAY,
                ).campaign_bonus
            )
        except Exception as exc:  # collected and asserted below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=place, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert errors == []
    awarded = sorted(points for bonus in results for _, points in bonus)
    # 20 orders × 70 points wanted, a 1,000 budget: 14 full awards, the 15th gets what is left.
    assert sum(awarded) == 1_000
    assert awarded.count(70) == 14
    assert campaign_points_awarded(campaign=Campaign.objects.get(code="capped")) == 1_000
    assert sum(CampaignAward.objects.values_list("points", flat=True)) == 1_000
