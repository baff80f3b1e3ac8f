"""The import earns at the tier each order was placed in, as the live path does
(`tests/loyalty/test_backdated_tier.py`)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from loyalty.demo import demo_tiers_ensure
from loyalty.models import Order
from tests.loyalty.importing.conftest import ORDERS_HEADER, days_ago
from tests.loyalty.tiers_helpers import held

DAY = dt.timedelta(days=1)


@pytest.fixture
def ladder(db, system_actor):
    return demo_tiers_ensure(actor=system_actor)


def test_the_import_earns_at_the_tier_held_when_each_order_was_placed(
    ladder, make_member, record_order, run_import, csv_file
):
    member = make_member(external_id="C-1")
    record_order(
        member, "LIVE-1", "1500.00", placed_at=timezone.now() - 3 * DAY, now=timezone.now() - DAY
    )  # Platinum from a day ago
    assert held(member) == "platinum"

    result = run_import(
        csv_file(
            f"{ORDERS_HEADER}\n"
            f"O-OLD,C-1,,{days_ago(5)},100.00,GBP\n"
            f"O-NEW,C-1,,{days_ago(0.5)},100.00,GBP\n"
        )
    )

    assert result.orders_created == 2, result.errors
    earned = dict(
        Order.objects.filter(order_id__in=["O-OLD", "O-NEW"]).values_list(
            "order_id", "points_tier_bonus"
        )
    )
    codes = dict(Order.objects.values_list("order_id", "tier_code"))
    assert earned == {"O-OLD": 0, "O-NEW": 100}
    assert (codes["O-OLD"], codes["O-NEW"]) == ("member", "platinum")
