"""The historical import decides tiers on the ladder's metric (orders, growth value), as the
daily evaluation does (`tests/loyalty/test_tier_metric_evaluation.py`)."""

from __future__ import annotations

import pytest

from loyalty.models import TierChange
from tests.loyalty.importing.conftest import ORDERS_HEADER, days_ago
from tests.loyalty.test_tier_metric import ladder_make
from tests.loyalty.tiers_helpers import held


@pytest.mark.parametrize(
    ("metric", "thresholds", "sources", "expected"),
    [
        # C-A: 3 orders (Gold at 3); C-B: 2 (Silver); C-C: 1 (Member)
        ("orders", ["2", "3", "5"], (), {"C-A": ("gold", 3), "C-B": ("silver", 2)}),
        # growth value from orders: the points earned, 1 per 1.00 (C-A 600, C-B 250, C-C 90)
        (
            "growth_value",
            ["250", "500", "1000"],
            ("orders",),
            {"C-A": ("gold", 600), "C-B": ("silver", 250)},
        ),
    ],
)
def test_the_import_decides_tiers_on_the_ladders_metric(
    metric, thresholds, sources, expected, db, make_member, run_import, csv_file, system_actor
):
    ladder_make(system_actor, metric, thresholds, sources=sources)

    result = run_import(
        csv_file(
            f"{ORDERS_HEADER}\n"
            f"I-1,C-A,,{days_ago(30)},200.00,GBP\n"
            f"I-2,C-A,,{days_ago(20)},200.00,GBP\n"
            f"I-3,C-A,,{days_ago(10)},200.00,GBP\n"
            f"I-4,C-B,,{days_ago(15)},125.00,GBP\n"
            f"I-5,C-B,,{days_ago(5)},125.00,GBP\n"
            f"I-6,C-C,,{days_ago(5)},90.00,GBP\n"
        )
    )

    assert result.orders_created == 6, result.errors
    changes = {
        c.member.external_id: (c.to_tier.code, c.qualifying_value, c.qualifying_spend, c.kind)
        for c in TierChange.objects.select_related("member", "to_tier")
    }
    assert changes == {k: (code, n, None, "import") for k, (code, n) in expected.items()}
    from members.models import Member

    assert held(Member.objects.get(external_id="C-C")) == "member"
