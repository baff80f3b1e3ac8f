"""Transparency: the member summary's `tier`, `progress` and `perks`, and the sentence saying it.

Ladder (`loyalty.demo`): Member 0 ×1, Silver 250 ×1.25, Gold 500 ×1.5, Platinum 1000 ×2.
T0 = 2026-01-05 10:00 UTC (London is on UTC in winter).
"""

from __future__ import annotations

import datetime as dt
from http import HTTPStatus

import pytest
from django.utils import timezone

from loyalty.demo import demo_tiers_ensure
from loyalty.models import Tier
from loyalty.selectors.tiers import member_tier_summary
from loyalty.services.tiers import tier_override
from tests.loyalty.conftest import T0
from tests.loyalty.tiers_helpers import settings_set

DAY = dt.timedelta(days=1)
GOLD_PERKS = [
    {"code": "birthday_gift", "name": "Birthday gift", "kind": "birthday_gift", "value": None},
    {
        "code": "early_access",
        "name": "Early access to sales",
        "kind": "early_access",
        "value": None,
    },
    {"code": "free_shipping", "name": "Free shipping", "kind": "free_shipping", "value": None},
]
# Sorted by name: "10% ..." comes first.
PLATINUM_PERKS = [
    {
        "code": "members_discount_10",
        "name": "10% members' discount",
        "kind": "discount_percent",
        "value": "10.00",
    },
    *GOLD_PERKS,
    {
        "code": "priority_support",
        "name": "Priority support",
        "kind": "priority_support",
        "value": None,
    },
]


@pytest.fixture
def ladder(db, system_actor):
    return demo_tiers_ensure(actor=system_actor)


def test_no_tier_configured_gives_empty_blocks(member):
    assert member_tier_summary(member) == {"tier": None, "progress": None, "perks": []}


def test_the_api_example_gold_on_the_way_to_platinum(ladder, member, record_order):
    record_order(member, "O-1", "500.00", placed_at=T0)  # Gold at once
    record_order(member, "O-2", "320.00", placed_at=T0 + 30 * DAY)  # meets Gold again

    summary = member_tier_summary(member, as_of=T0 + 60 * DAY)

    assert summary == {
        "tier": {
            "code": "gold",
            "name": "Gold",
            "since": "2026-01-05T10:00:00Z",
            "held_until": "2027-02-04T10:00:00Z",
            "multiplier": "1.50",
            "override_until": None,
        },
        "progress": {
            "metric": "qualifying_spend",
            "currency": "GBP",
            "window_start": "2025-03-06",
            "window_end": "2026-03-06",
            "qualifying_spend": "820.00",
            "next_tier": {
                "code": "platinum",
                "name": "Platinum",
                "threshold": "1000.00",
                "remaining": "180.00",
                "by": "2027-01-04",
                "perks": PLATINUM_PERKS,
            },
            "keep_tier": {"threshold": "500.00", "remaining": "0.00", "by": "2027-02-04"},
            "explanation": "Spend £180.00 more by 4 Jan 2027 to reach Platinum. "
            "Gold is yours until 4 Feb 2027.",
        },
        "perks": GOLD_PERKS,
    }


def test_the_entry_tier_with_no_spend(ladder, member):
    summary = member_tier_summary(member)

    assert summary["tier"] == {
        "code": "member",
        "name": "Member",
        "since": member.enrolled_at.astimezone(dt.UTC)
        .replace(microsecond=0)
        .isoformat()
        .replace("+00:00", "Z"),
        "held_until": None,
        "multiplier": "1.00",
        "override_until": None,
    }
    progress = summary["progress"]
    assert (progress["qualifying_spend"], progress["keep_tier"]) == ("0.00", None)
    assert progress["next_tier"] == {
        "code": "silver",
        "name": "Silver",
        "threshold": "250.00",
        "remaining": "250.00",
        "by": None,
        "perks": [
            {
                "code": "birthday_gift",
                "name": "Birthday gift",
                "kind": "birthday_gift",
                "value": None,
            },
            {
                "code": "free_shipping",
                "name": "Free shipping",
                "kind": "free_shipping",
                "value": None,
            },
        ],
    }
    assert progress["explanation"] == "Spend £250.00 within 365 days to reach Silver."
    assert summary["perks"] == [
        {"code": "birthday_gift", "name": "Birthday gift", "kind": "birthday_gift", "value": None}
    ]


def test_the_entry_tier_with_some_spend(ladder, member, record_order):
    record_order(member, "O-1", "100.00", placed_at=T0)

    progress = member_tier_summary(member, as_of=T0 + 10 * DAY)["progress"]

    assert progress["explanation"] == "Spend £150.00 more by 4 Jan 2027 to reach Silver."


def test_a_spend_exactly_at_the_threshold(ladder, member, record_order):
    record_order(member, "O-1", "250.00", placed_at=T0)

    progress = member_tier_summary(member, as_of=T0 + DAY)["progress"]

    assert progress["keep_tier"] == {"threshold": "250.00", "remaining": "0.00", "by": "2027-01-05"}
    assert progress["explanation"] == (
        "Spend £250.00 more by 4 Jan 2027 to reach Gold. Silver is yours until 5 Jan 2027."
    )


def test_after_a_two_tier_jump(ladder, member, record_order):
    record_order(member, "O-1", "200.00", placed_at=T0)
    record_order(member, "O-2", "350.00", placed_at=T0 + DAY)

    summary = member_tier_summary(member, as_of=T0 + 2 * DAY)

    assert (summary["tier"]["code"], summary["tier"]["since"]) == ("gold", "2026-01-06T10:00:00Z")
    assert summary["progress"]["explanation"] == (
        "Spend £450.00 more by 4 Jan 2027 to reach Platinum. Gold is yours until 6 Jan 2027."
    )


def test_the_top_tier(ladder, member, record_order):
    record_order(member, "O-1", "1200.00", placed_at=T0)

    summary = member_tier_summary(member, as_of=T0 + 10 * DAY)

    assert summary["progress"]["next_tier"] is None
    assert summary["progress"]["explanation"] == (
        "You are in Platinum, our highest tier; it is yours until 5 Jan 2027."
    )
    assert [p["code"] for p in summary["perks"]] == [
        "members_discount_10",
        "birthday_gift",
        "early_access",
        "free_shipping",
        "priority_support",
    ]
    assert summary["perks"][0] == {
        "code": "members_discount_10",
        "name": "10% members' discount",
        "kind": "discount_percent",
        "value": "10.00",
    }


def test_the_top_tier_below_its_threshold_in_the_hold(ladder, member, record_order, record_refund):
    record_order(member, "O-1", "1200.00", placed_at=T0)
    record_refund("O-1", "R-1", "300.00", now=T0 + DAY)

    progress = member_tier_summary(member, as_of=T0 + 10 * DAY)["progress"]

    assert progress["explanation"] == (
        "You are in Platinum, our highest tier; it is yours until 5 Jan 2027. "
        "Spend £100.00 more by 4 Jan 2027 to keep it beyond then."
    )


def test_the_top_tier_after_its_hold_with_too_little_spend(
    ladder, member, record_order, record_refund
):
    settings_set(tier_hold_days=30)
    record_order(member, "O-1", "1000.00", placed_at=T0)
    record_refund("O-1", "R-1", "0.01", now=T0 + DAY)

    progress = member_tier_summary(member, as_of=T0 + 31 * DAY)["progress"]

    assert progress["explanation"] == (
        "You are in Platinum, our highest tier. Spend £0.01 more today to keep it."
    )


def test_the_hold_period_after_a_refund(ladder, member, record_order, record_refund):
    record_order(member, "O-1", "500.00", placed_at=T0)
    record_refund("O-1", "R-1", "100.00", now=T0 + DAY)

    progress = member_tier_summary(member, as_of=T0 + 10 * DAY)["progress"]

    assert progress["qualifying_spend"] == "400.00"
    assert progress["keep_tier"] == {
        "threshold": "500.00",
        "remaining": "100.00",
        "by": "2027-01-04",
    }
    assert progress["explanation"] == (
        "Spend £600.00 more by 4 Jan 2027 to reach Platinum. Gold is yours until 5 Jan 2027; "
        "spend £100.00 more by 4 Jan 2027 to keep it beyond then."
    )


def test_the_hold_has_ended_and_the_downgrade_is_due(ladder, member, record_order, record_refund):
    settings_set(tier_hold_days=30)
    record_order(member, "O-1", "500.00", placed_at=T0)
    record_refund("O-1", "R-1", "200.00", now=T0 + DAY)

    summary = member_tier_summary(member, as_of=T0 + 40 * DAY)

    assert summary["tier"]["held_until"] == "2026-02-04T10:00:00Z"
    assert summary["progress"]["keep_tier"] == {
        "threshold": "500.00",
        "remaining": "200.00",
        "by": "2026-02-14",
    }
    assert summary["progress"]["explanation"] == (
        "Spend £700.00 more by 4 Jan 2027 to reach Platinum. Spend £200.00 more today to keep Gold."
    )


def test_an_override(ladder, member, system_actor):
    until = timezone.localdate() + 10 * DAY
    state = tier_override(
        member=member,
        tier=Tier.objects.get(code="gold"),
        until=until,
        reason="Status match",
        actor=system_actor,
    )

    summary = member_tier_summary(member)

    end = timezone.make_aware(dt.datetime.combine(until + DAY, dt.time.min))
    assert summary["tier"] == {
        "code": "gold",
        "name": "Gold",
        "since": state.override_at.astimezone(dt.UTC)
        .replace(microsecond=0)
        .isoformat()
        .replace("+00:00", "Z"),
        "held_until": end.astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
        "multiplier": "1.50",
        "override_until": until.isoformat(),
    }
    assert summary["perks"] == GOLD_PERKS
    assert summary["progress"]["explanation"] == (
        f"Our team has placed you in Gold until {until.day} {until:%b} {until.year}; after "
        "that your spend decides your tier. Spend £250.00 within 365 days to reach Silver."
    )


def test_calendar_year_mode(ladder, member, record_order):
    settings_set(qualification="calendar_year")
    record_order(member, "O-1", "300.00", placed_at=dt.datetime(2026, 3, 1, 12, tzinfo=dt.UTC))

    progress = member_tier_summary(member, as_of=dt.datetime(2026, 6, 1, 12, tzinfo=dt.UTC))[
        "progress"
    ]

    assert (progress["window_start"], progress["window_end"]) == ("2026-01-01", "2026-12-31")
    assert progress["next_tier"]["by"] == "2026-12-31"
    assert progress["explanation"] == (
        "Spend £200.00 more by 31 Dec 2026 to reach Gold. Silver is yours until 1 Mar 2027."
    )


def test_calendar_year_mode_after_new_year(ladder, member, record_order):
    settings_set(qualification="calendar_year")
    record_order(member, "O-1", "300.00", placed_at=dt.datetime(2026, 3, 1, 12, tzinfo=dt.UTC))

    progress = member_tier_summary(member, as_of=dt.datetime(2027, 1, 2, 9, tzinfo=dt.UTC))[
        "progress"
    ]

    assert (progress["qualifying_spend"], progress["window_start"]) == ("0.00", "2027-01-01")
    assert progress["keep_tier"] == {
        "threshold": "250.00",
        "remaining": "250.00",
        "by": "2027-03-01",
    }
    assert progress["explanation"] == (
        "Spend £500.00 by 31 Dec 2027 to reach Gold (spend counts from 1 January). "
        "Silver is yours until 1 Mar 2027; spend £250.00 more by 1 Mar 2027 to keep it beyond "
        "then."
    )


def test_a_single_tier_program(db, member, system_actor):
    from loyalty.services.tier_config import tier_save

    tier_save(actor=system_actor, code="club", name="Club", rank=0, threshold="0", multiplier="1")

    progress = member_tier_summary(member)["progress"]

    assert (progress["next_tier"], progress["keep_tier"]) == (None, None)
    assert progress["explanation"] == "Club is our only tier."


def test_the_api_summary_carries_the_tier_blocks(
    ladder, api_client, member, record_order, django_assert_max_num_queries
):
    now = timezone.now()
    record_order(member, "O-1", "300.00", placed_at=now - DAY, now=now - DAY)

    # API key, member, account, expiring lots; tiers: ladder, perks, settings, member tier, spend;
    # the paid membership (none); the clubs (none).
    with django_assert_max_num_queries(11):
        response = api_client.get(f"/api/v1/members/{member.external_id}")

    assert response.status_code == HTTPStatus.OK
    body = response.json()
    expected = member_tier_summary(member)
    # The API shows the fields of the counting metrics (orders, growth value) as null.
    nulls = {"threshold_value": None, "remaining_value": None}
    progress = expected["progress"]
    expected_progress = {
        **progress,
        "qualifying_value": None,
        "next_tier": progress["next_tier"] and {**progress["next_tier"], **nulls},
        "keep_tier": progress["keep_tier"] and {**progress["keep_tier"], **nulls},
    }
    assert (body["tier"], body["progress"], body["perks"]) == (
        expected["tier"],
        expected_progress,
        expected["perks"],
    )
    assert body["tier"]["code"] == "silver"
