"""Every condition type, compiled and run (on SQLite and on PostgreSQL), with exact members."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from feedback.services import feedback_record
from loyalty.demo import demo_tiers_ensure
from loyalty.models import Tier
from loyalty.services.program import program_settings_update
from loyalty.services.tier_overrides import tier_override
from members.services import member_set_status
from memberships.services import plan_save
from memberships.services.lifecycle import membership_start
from segments.conditions import conditions_validate
from segments.models import Club
from segments.selectors.segments import conditions_members
from segments.services.clubs import club_join
from segments.services.stats import stats_refresh

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)


def _days(n):
    return dt.timedelta(days=n)


@pytest.fixture
def world(make_member, record_order, system_actor, settings):
    # Two years: B's order of 400 days ago is scored too (B scores 1, A 3 of two members).
    settings.SEGMENTS_RFM_WINDOW_DAYS = 730
    program_settings_update(actor=system_actor, pending_days=0)
    a = make_member(
        external_id="A", birth_date=dt.date(1990, 3, 15), marketing_consent=True, country="GB"
    )
    b = make_member(
        external_id="B", birth_date=dt.date(1985, 7, 2), enrolled_at=NOW - _days(365), country="IE"
    )
    c = make_member(external_id="C", enrolled_at=NOW - _days(31))  # country unknown
    for n, ago in enumerate((5, 10, 20)):
        items = [{"sku": "LAMP", "category": "Home & Garden", "quantity": 1, "unit_price": "100"}]
        record_order(a, f"A-{n}", "100.00", placed_at=NOW - _days(ago), items=items)
    items = [{"sku": "MUG", "category": "Kitchen", "quantity": 2, "unit_price": "25.00"}]
    record_order(b, "B-1", "50.00", placed_at=NOW - _days(400), items=items, retro_credit=True)
    feedback_record(member=a, scale="nps", score=3, actor=system_actor, now=NOW - _days(2))
    feedback_record(member=b, scale="nps", score=2, actor=system_actor, now=NOW - _days(9))
    feedback_record(member=b, scale="nps", score=9, actor=system_actor, now=NOW - _days(1))
    club = Club.objects.create(code="parents", name="Parents")
    club_join(member=a, club=club, actor=system_actor, now=NOW)
    plan_save(actor=system_actor, code="plus", name="Plus", price=Decimal("12.00"),
              currency="GBP", period_months=1, trial_days=14, grace_days=7)  # fmt: skip
    membership_start(member=a, plan_code="plus", actor=system_actor, trial=True, now=NOW - _days(3))
    stats_refresh(now=NOW)
    return {"A": a, "B": b, "C": c}


def _who(tree) -> list[str]:
    members = conditions_members(conditions_validate(tree), now=NOW)
    return sorted(members.values_list("external_id", flat=True))


def _c(field, op, value, **params):
    return {"field": field, "op": op, "value": value, **params}


CASES = [
    (_c("rfm_group", "in", ["needs_attention", "lost"]), ["A", "B"]),
    (_c("rfm_group", "not_in", ["needs_attention"]), ["B", "C"]),
    (_c("spend", "eq", "50.00", window_days=730), ["B"]),
    (_c("recency_score", "gte", 3), ["A"]),
    (_c("frequency_score", "eq", 1), ["B"]),
    (_c("monetary_score", "between", [1, 2]), ["B"]),
    (_c("spend", "gte", "300.00"), ["A"]),
    (_c("spend", "between", ["10", "60"]), ["B"]),
    (_c("spend", "gt", "0", window_days=365), ["A"]),
    (_c("spend", "eq", "200.00", window_days=15), ["A"]),
    (_c("spend", "lt", "1", window_days=15), ["B", "C"]),
    (_c("orders", "eq", 3), ["A"]),
    (_c("orders", "ne", 3), ["B", "C"]),
    (_c("orders", "gte", 1, window_days=7), ["A"]),
    (_c("average_order", "eq", "100.00"), ["A"]),
    (_c("average_order", "lt", "60"), ["B"]),
    (_c("average_order", "gte", "100", window_days=12), ["A"]),
    (_c("days_since_last_order", "eq", 5), ["A"]),
    (_c("days_since_last_order", "gt", 5), ["B"]),
    (_c("days_since_last_order", "between", [0, 5]), ["A"]),
    (_c("days_since_last_order", "lt", 5), []),
    (_c("enrolled", "gte", "2026-01-01"), ["C"]),
    (_c("enrolled", "between", ["2025-06-01", "2025-06-01"]), ["B"]),
    (_c("enrolled", "lt", "2025-06-01"), ["A"]),
    (_c("birthday_month", "in", [3, 4]), ["A"]),
    (_c("birthday_month", "not_in", [3]), ["B"]),
    (_c("points_balance", "eq", 300), ["A"]),
    (_c("points_balance", "eq", 0), ["C"]),
    (_c("points_expiring", "eq", 100, within_days=350), ["A"]),
    (_c("points_expiring", "gte", 300, within_days=3650), ["A"]),
    (_c("category", "in", ["Home & Garden"]), ["A"]),
    (_c("category", "not_in", ["Home & Garden"]), ["B", "C"]),
    (_c("sku", "in", ["MUG", "NOPE"]), ["B"]),
    (_c("club", "in", ["parents"]), ["A"]),
    (_c("club", "not_in", ["parents"]), ["B", "C"]),
    (_c("paid_plan", "is", True), ["A"]),
    (_c("paid_plan", "is", False), ["B", "C"]),
    (_c("plan", "in", ["plus"]), ["A"]),
    (_c("marketing_consent", "is", True), ["A"]),
    (_c("country", "in", ["GB"]), ["A"]),
    (_c("country", "in", ["GB", "IE"]), ["A", "B"]),
    (_c("country", "not_in", ["GB"]), ["B"]),  # C's country is unknown: in neither
    (_c("nps_detractor", "is", True), ["A"]),
    (_c("nps_detractor", "is", False), ["B", "C"]),
    ({"all": []}, ["A", "B", "C"]),
    ({"any": [_c("orders", "eq", 3), {"all": [_c("orders", "eq", 0)]}]}, ["A", "C"]),
    ({"all": [_c("orders", "gte", 1), {"any": [_c("club", "in", ["parents"])]}]}, ["A"]),
]


@pytest.mark.parametrize(("tree", "expected"), CASES, ids=[str(i) for i in range(len(CASES))])
def test_condition(world, tree, expected):
    assert _who(tree) == expected


def test_every_field_is_covered():
    from segments.conditions import FIELDS

    covered = {tree["field"] for tree, _ in CASES if "field" in tree}
    assert covered | {"tier"} == set(FIELDS)


def test_tier_reads_the_override_the_earned_and_the_entry_tier(make_member, system_actor):
    ladder = demo_tiers_ensure(actor=system_actor)
    entry, gold = ladder[0].code, Tier.objects.get(code="gold")
    make_member(external_id="A")
    b = make_member(external_id="B")
    tier_override(member=b, tier=gold, until=dt.date(2099, 1, 1), reason="VIP", actor=system_actor)
    assert _who(_c("tier", "in", ["gold"])) == ["B"]
    assert _who(_c("tier", "in", [entry])) == ["A"]
    assert _who(_c("tier", "not_in", ["gold"])) == ["A"]


def test_suspended_members_are_in_no_segment(world, system_actor):
    member_set_status(member=world["A"], status="suspended", actor=system_actor, reason="test")
    assert _who({"all": []}) == ["B", "C"]


@pytest.mark.parametrize(
    ("tree", "message"),
    [
        ({"all": [_c("colour", "in", ["red"])]}, "all[0].field: unknown field 'colour'."),
        ({"any": []}, "any: an ANY needs at least one condition."),
        (
            {"all": [{"any": [_c("orders", "gte", 1)]}, {"any": []}]},
            "all[1].any: an ANY needs at least one condition.",
        ),
        ({"all": [_c("orders", "gte", "3")]}, "all[0].value: a whole number is expected."),
        (
            {"all": [_c("spend", "gte", "ten")]},
            'all[0].value: an amount is expected, such as "25.00".',
        ),
        ({"all": [_c("rfm_group", "in", ["vip"])]}, "all[0].value: unknown value vip."),
        ({"all": [_c("country", "in", ["GB", "gb", "UK"])]}, "all[0].value: unknown value UK, gb."),
        (
            {"all": [_c("orders", "in", [1])]},
            "all[0].op: orders takes the operators eq, ne, gt, gte, lt, lte, between.",
        ),
        (
            {"all": [_c("points_expiring", "gte", 1)]},
            "all[0].within_days: this parameter is required.",
        ),
        ({"all": [_c("spend", "gte", "1", window=3)]}, "all[0].window: unknown key for spend."),
        (
            {"all": [_c("enrolled", "gte", "2026-13-01")]},
            "all[0].value: a date is expected, as YYYY-MM-DD.",
        ),
        (
            {"all": [_c("spend", "between", ["9", "1"])]},
            "all[0].value: the low bound is above the high bound.",
        ),
        (
            {"all": [_c("marketing_consent", "is", "yes")]},
            "all[0].value: true or false is expected.",
        ),
        ({"all": [_c("recency_score", "gte", 6)]}, "all[0].value: a score is from 1 to 5."),
        ({"all": [], "any": []}, ": a group has one key, all or any, and nothing else."),
    ],
)
def test_invalid_trees_are_refused_with_the_path(tree, message):
    with pytest.raises(ValidationError) as caught:
        conditions_validate(tree)
    assert caught.value.code == "invalid_condition"
    assert caught.value.messages == [message]
