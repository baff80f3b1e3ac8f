"""The catalogue: reward rules, stock changes with who and why, database guards, demo, config."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, ProgrammingError, transaction
from django.utils import timezone

from config.errors import ServiceError
from loyalty.services.program_config import (
    program_config_export,
    program_config_import,
    program_config_validate,
)
from members.models import AuditEntry
from rewards.demo import DEMO_REWARDS, demo_rewards_ensure
from rewards.models import Redemption, Reward, StockMovement
from rewards.services import (
    redemption_create,
    reward_delete,
    reward_stock_adjust,
    reward_stock_set,
    reward_update,
)

# --- reward rules ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        # The kind rules name the field to fix (Reward.clean), not the constraint.
        ({"kind": "free_product", "sku": ""}, "sku"),
        ({"kind": "percent_discount", "value": Decimal("120.00")}, "value"),
        ({"kind": "fixed_discount", "value": None}, "value"),
        ({"kind": "fixed_discount", "points_cost": 0}, "points_cost"),
        ({"kind": "points_discount", "min_points": None}, "min_points"),
        (
            {"kind": "points_discount", "min_share": Decimal("0.6"), "max_share": Decimal("0.5")},
            "min_share",
        ),
        ({"coupon_valid_days": 0}, "coupon_valid_days"),
        ({"kind": "treasure"}, "kind"),
    ],
)
def test_reward_rules_are_checked_before_saving(make_reward, fields, field):
    with pytest.raises(ValidationError) as exc:
        make_reward(code="BAD", **fields)

    assert field in exc.value.message_dict
    assert "__all__" not in exc.value.message_dict
    assert not Reward.objects.filter(code="BAD").exists()


def test_reward_window_must_be_ordered(make_reward):
    now = timezone.now()

    with pytest.raises(ValidationError):
        make_reward(code="BAD", active_from=now, active_to=now - dt.timedelta(days=1))


def test_reward_code_is_unique(make_reward):
    make_reward(code="FIVE_OFF")

    with pytest.raises(ValidationError) as exc:
        make_reward(code="FIVE_OFF")

    assert "code" in exc.value.message_dict


def test_the_database_refuses_negative_stock(make_reward):
    reward = make_reward(code="LIMITED", stock=1)

    with pytest.raises(IntegrityError), transaction.atomic():
        Reward.objects.filter(pk=reward.pk).update(stock=-1)


@pytest.mark.postgres
def test_stock_movements_are_append_only(make_reward):
    make_reward(code="LIMITED", stock=1)

    with pytest.raises(ProgrammingError, match="rewards_stockmovement"), transaction.atomic():
        StockMovement.objects.update(reason="rewritten")
    with pytest.raises(ProgrammingError, match="rewards_stockmovement"), transaction.atomic():
        StockMovement.objects.all().delete()
    assert StockMovement.objects.get().reason == "Initial stock"


def test_update_is_audited_and_never_touches_stock(make_reward, system_actor):
    reward = make_reward(code="FIVE_OFF", stock=3)

    with pytest.raises(ServiceError) as exc:
        reward_update(reward=reward, actor=system_actor, stock=10)
    assert exc.value.errors[0]["field"] == "stock"

    reward_update(reward=reward, actor=system_actor, reason="price change", points_cost=450)
    entry = AuditEntry.objects.get(action="reward.update")
    assert (entry.changes, entry.reason) == ({"points_cost": [500, 450]}, "price change")
    assert Reward.objects.get(pk=reward.pk).points_cost == 450


def test_issued_coupons_keep_their_terms(member, give_points, make_reward, system_actor):
    give_points(member, 500)
    reward = make_reward(code="FIVE_OFF")
    issued = redemption_create(member=member, reward_code="FIVE_OFF", actor=system_actor)

    reward_update(reward=reward, actor=system_actor, value=Decimal("4.00"), kind="fixed_discount")

    assert Redemption.objects.get(pk=issued.redemption.pk).value == Decimal("5.00")


def test_delete_refuses_a_reward_with_history(member, give_points, make_reward, system_actor):
    give_points(member, 500)
    redeemed = make_reward(code="FIVE_OFF")
    stocked = make_reward(code="LIMITED", stock=2)
    redemption_create(member=member, reward_code="FIVE_OFF", actor=system_actor)

    for reward in (redeemed, stocked):
        with pytest.raises(ServiceError) as exc:
            reward_delete(reward=reward, actor=system_actor)
        assert (exc.value.code, exc.value.status) == ("reward_in_use", 409)
    assert Reward.objects.count() == 2


# --- stock ---------------------------------------------------------------------------------------


def test_stock_adjust_records_who_and_why(make_reward, system_actor):
    reward = make_reward(code="LIMITED", stock=3)

    reward_stock_adjust(reward=reward, delta=5, reason="delivery", actor=system_actor)
    reward_stock_adjust(reward=reward, delta=-2, reason="damaged", actor=system_actor)

    assert Reward.objects.get(pk=reward.pk).stock == 6
    movements = list(
        StockMovement.objects.filter(reward=reward)
        .order_by("id")
        .values_list("kind", "delta", "stock_after", "reason", "actor_label")
    )
    assert movements == [
        ("set", 3, 3, "Initial stock", "system:tests"),
        ("adjustment", 5, 8, "delivery", "system:tests"),
        ("adjustment", -2, 6, "damaged", "system:tests"),
    ]


@pytest.mark.parametrize(
    ("stock", "delta", "reason", "code"),
    [
        (3, -4, "miscount", "stock_negative"),
        (None, 5, "delivery", "stock_unlimited"),
        (3, 0, "nothing", "validation_error"),
        (3, 5, "  ", "validation_error"),
    ],
)
def test_stock_adjust_errors(make_reward, system_actor, stock, delta, reason, code):
    reward = make_reward(code="LIMITED", stock=stock)

    with pytest.raises(ServiceError) as exc:
        reward_stock_adjust(reward=reward, delta=delta, reason=reason, actor=system_actor)

    assert exc.value.code == code
    assert Reward.objects.get(pk=reward.pk).stock == stock
    assert StockMovement.objects.filter(kind="adjustment").count() == 0


def test_stock_set_limits_and_unlimits(make_reward, system_actor):
    reward = make_reward(code="LIMITED")

    reward_stock_set(reward=reward, stock=10, reason="limited edition", actor=system_actor)
    reward_stock_set(reward=reward, stock=None, reason="restocked for good", actor=system_actor)

    assert Reward.objects.get(pk=reward.pk).stock is None
    movements = StockMovement.objects.filter(reward=reward).order_by("id")
    assert list(movements.values_list("delta", "stock_after")) == [(10, 10), (0, None)]


# --- demo --------------------------------------------------------------------------------------


def test_demo_rewards_are_created_once(db, tiers):
    first = demo_rewards_ensure()
    second = demo_rewards_ensure()

    assert sorted(r.code for r in first) == sorted(spec["code"] for spec in DEMO_REWARDS)
    assert [r.pk for r in second] == [r.pk for r in first]
    assert Reward.objects.get(code="GOLD_TWENTY_OFF").min_tier == tiers["gold"]
    assert Reward.objects.get(code="TOTE_BAG").stock == 100


def test_demo_can_be_redeemed(member, give_points, tiers, system_actor):
    demo_rewards_ensure()
    give_points(member, 2000)

    result = redemption_create(member=member, reward_code="TOTE_BAG", actor=system_actor)

    assert (result.redemption.sku, result.available) == ("TOTE-001", 500)


# --- config file section -------------------------------------------------------------------


def _paths(problems) -> list[str]:
    return [p.path for p in problems]


def test_config_round_trip(make_reward, tiers, system_actor):
    make_reward(code="FIVE_OFF", stock=3, min_tier=tiers["silver"])
    exported = program_config_export()["rewards"]
    assert exported == [
        {
            "code": "FIVE_OFF",
            "name": "£5 off",
            "description": "",
            "kind": "fixed_discount",
            "sku": "",
            "points_cost": 500,
            "value": "5.00",
            "stock": 3,
            "per_member_limit": None,
            "min_tier": "silver",
            "active_from": None,
            "active_to": None,
            "coupon_valid_days": 90,
            "min_points": None,
            "min_share": None,
            "max_share": None,
            "is_active": True,
        }
    ]

    # when the file comes back with a change and a new reward (as the spec writes one)
    document = {
        "rewards": [
            {**exported[0], "points_cost": 450, "stock": 10},
            {
                "code": "SHIP",
                "name": "Free shipping",
                "kind": "free_shipping",
                "points_cost": 300,
                "value": None,
                "stock": None,
                "per_member_limit": None,
                "min_tier": None,
                "active_from": "2026-01-01T00:00:00Z",
                "active_to": None,
                "coupon_valid_days": 30,
            },
        ]
    }
    report = program_config_import(document=document, actor=system_actor)

    section = next(s for s in report.sections if s.name == "rewards")
    assert (section.created, section.updated, section.unchanged) == (["SHIP"], ["FIVE_OFF"], [])
    five = Reward.objects.get(code="FIVE_OFF")
    assert (five.points_cost, five.stock) == (450, 10)
    assert StockMovement.objects.filter(reward=five, reason="config import").count() == 1
    assert Reward.objects.get(code="SHIP").active_from == dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    # export -> import -> export is the identity, and a second import changes nothing
    again = program_config_export()["rewards"]
    report = program_config_import(document={"rewards": again}, actor=system_actor)
    assert next(s for s in report.sections if s.name == "rewards").unchanged == ["FIVE_OFF", "SHIP"]
    assert program_config_export()["rewards"] == again


def test_config_min_tier_may_name_a_tier_of_the_same_file(db, system_actor):
    document = {
        "tiers": [
            {
                "code": "member",
                "name": "Member",
                "rank": 0,
                "threshold": "0.00",
                "multiplier": "1.00",
                "perks": [],
            },
            {
                "code": "gold",
                "name": "Gold",
                "rank": 2,
                "threshold": "500.00",
                "multiplier": "1.50",
                "perks": [],
            },
        ],
        "rewards": [
            {
                "code": "FIVE_OFF",
                "name": "£5 off",
                "kind": "fixed_discount",
                "points_cost": 500,
                "value": "5.00",
                "stock": None,
                "per_member_limit": None,
                "min_tier": "gold",
                "active_from": None,
                "active_to": None,
                "coupon_valid_days": 90,
            },
        ],
    }

    assert program_config_validate(document) == []
    program_config_import(document=document, actor=system_actor)

    assert Reward.objects.get(code="FIVE_OFF").min_tier.code == "gold"


def test_config_problems_name_their_path(db, tiers):
    document = {
        "rewards": [
            {"code": "A", "name": "A", "kind": "fixed_discount", "points_cost": 100, "value": 5},
            {"code": "A", "name": "B", "kind": "fixed_discount", "points_cost": 1, "value": "1"},
            {"code": "B", "name": "B", "kind": "free_product", "points_cost": 100, "sku": ""},
            {"code": "C", "name": "C", "kind": "free_shipping", "points_cost": 1, "min_tier": "x"},
            {"code": "D", "name": "D", "kind": "free_shipping", "points_cost": 1, "colour": "red"},
            "nonsense",
        ]
    }

    problems = program_config_validate(document)

    assert _paths(problems) == [
        "rewards[0].value",
        "rewards[1].code",
        "rewards[2].sku",
        "rewards[3].min_tier",
        "rewards[4].colour",
        "rewards[5]",
    ]
    assert _paths(program_config_validate({"rewards": {"code": "A"}})) == ["rewards"]


def test_config_refuses_pruning_a_tier_a_reward_requires(make_reward, tiers):
    # given a reward for gold, and a file without gold whose reward no longer needs it
    make_reward(code="GOLD_ONLY", min_tier=tiers["gold"])
    exported = program_config_export()
    ladder = [t for t in exported["tiers"] if t["code"] != "gold"]
    rewards = [{**exported["rewards"][0], "min_tier": None}]

    # then pruning is refused: tiers are pruned before rewards are applied
    problems = program_config_validate({"tiers": ladder, "rewards": rewards}, prune=True)

    assert [str(p) for p in problems] == [
        "tiers: Tier gold is not in the file, but reward GOLD_ONLY requires it: it cannot be "
        "pruned (change the reward's min_tier first)."
    ]


def test_config_prune_deletes_unused_and_switches_off_used(
    member, give_points, make_reward, system_actor
):
    give_points(member, 500)
    make_reward(code="KEEP")
    make_reward(code="UNUSED")
    make_reward(code="USED")
    redemption_create(member=member, reward_code="USED", actor=system_actor)
    keep = [e for e in program_config_export()["rewards"] if e["code"] == "KEEP"]

    report = program_config_import(document={"rewards": keep}, actor=system_actor, prune=True)

    section = next(s for s in report.sections if s.name == "rewards")
    assert (section.deleted, section.updated, section.unchanged) == (["UNUSED"], ["USED"], ["KEEP"])
    assert dict(Reward.objects.values_list("code", "is_active")) == {"KEEP": True, "USED": False}
