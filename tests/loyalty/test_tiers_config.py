"""Marketing's writes to the ladder and perks: the ladder rules, deletion, the audit log."""

from __future__ import annotations

from decimal import Decimal
from http import HTTPStatus

import pytest
from django.db import IntegrityError, connection, transaction

from config.errors import ServiceError
from loyalty.demo import demo_tiers_ensure
from loyalty.models import MemberTier, Perk, Tier
from loyalty.services.tier_config import perk_delete, perk_save, tier_delete, tier_save
from members.models import AuditEntry
from tests.loyalty.conftest import T0


@pytest.fixture
def ladder(db, system_actor):
    return demo_tiers_ensure(actor=system_actor)


def _save(actor, tier=None, **fields):
    values = {"code": "x", "name": "X", "rank": 1, "threshold": "100", "multiplier": "1"}
    values.update(fields)
    return tier_save(actor=actor, tier=tier, **values)


def _errors(excinfo) -> list[tuple[str, str]]:
    return [(e["field"], e["message"]) for e in excinfo.value.errors]


def test_the_first_tier_must_be_the_entry_tier(db, system_actor):
    with pytest.raises(ServiceError) as excinfo:
        _save(system_actor, code="silver", rank=1, threshold="250")

    assert (excinfo.value.code, excinfo.value.status) == (
        "validation_error",
        HTTPStatus.BAD_REQUEST,
    )
    assert _errors(excinfo) == [
        ("rank", "The ladder needs an entry tier with rank 0 (create it first).")
    ]


def test_the_entry_tier_has_threshold_zero(db, system_actor):
    with pytest.raises(ServiceError) as excinfo:
        _save(system_actor, code="member", rank=0, threshold="10")

    assert _errors(excinfo) == [("threshold", "The entry tier (rank 0) must have threshold 0.")]


def test_thresholds_rise_with_rank(ladder, system_actor):
    with pytest.raises(ServiceError) as excinfo:
        _save(system_actor, code="bronze", rank=4, threshold="900.00", multiplier="1.10")

    assert _errors(excinfo) == [("threshold", "Must be above Platinum's threshold (1000.00).")]


def test_field_rules_are_all_reported(db, system_actor):
    with pytest.raises(ServiceError) as excinfo:
        _save(system_actor, code="no spaces", name="", rank=-1, threshold="1.005", multiplier="0.9")

    assert [field for field, _ in _errors(excinfo)] == [
        "code",
        "name",
        "rank",
        "threshold",
        "multiplier",
    ]


def test_codes_and_ranks_are_unique(ladder, system_actor):
    with pytest.raises(ServiceError) as excinfo:
        _save(system_actor, code="gold", rank=2, threshold="500.00", multiplier="1.5")

    assert _errors(excinfo) == [
        ("code", "Another tier already has this code."),
        ("rank", "Another tier already has rank 2."),
    ]


def test_a_tier_save_is_audited_with_what_changed(ladder, system_actor):
    gold = Tier.objects.get(code="gold")

    _save(
        system_actor,
        tier=gold,
        code="gold",
        name="Gold",
        rank=2,
        threshold="500.00",
        multiplier="1.75",
        description=gold.description,
        perks=list(gold.perks.all()),
    )

    entry = AuditEntry.objects.filter(action="tier.update").get()
    assert (entry.target_id, entry.changes) == (str(gold.pk), {"multiplier": ["1.50", "1.75"]})


def test_a_tier_members_held_cannot_be_deleted(ladder, member, record_order, system_actor):
    record_order(member, "O-1", "300.00", placed_at=T0)

    with pytest.raises(ServiceError) as excinfo:
        tier_delete(tier=Tier.objects.get(code="silver"), actor=system_actor)

    assert (excinfo.value.code, excinfo.value.status) == ("tier_in_use", HTTPStatus.CONFLICT)


def test_a_tier_a_reward_requires_cannot_be_deleted(ladder, system_actor):
    # given: a reward redeemable from Gold up (its `min_tier` protects the tier); nobody holds Gold
    from rewards.services.catalogue import reward_create

    gold = Tier.objects.get(code="gold")
    reward_create(
        code="GOLD_GIFT",
        actor=system_actor,
        name="Gold gift",
        kind="fixed_discount",
        points_cost=500,
        value=Decimal("5.00"),
        min_tier=gold,
    )

    with pytest.raises(ServiceError) as excinfo:
        tier_delete(tier=gold, actor=system_actor)

    assert (excinfo.value.code, excinfo.value.status) == ("tier_in_use", HTTPStatus.CONFLICT)
    assert "rewards" in excinfo.value.message
    # nothing of the refused delete is left behind: the tier, its perks, no audit entry
    assert Tier.objects.get(code="gold").perks.count() == 3
    assert not AuditEntry.objects.filter(action="tier.delete").exists()


@pytest.mark.postgres
def test_the_database_refuses_to_delete_a_tier_only_the_history_names(ladder, member, record_order):
    # given: an upgrade Member -> Silver; nobody holds Member now, only the history names it (its
    # tier columns have no foreign key: a trigger guards them)
    record_order(member, "O-1", "300.00", placed_at=T0)
    assert not MemberTier.objects.filter(tier__code="member").exists()

    with (
        pytest.raises(IntegrityError, match="tier history"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("DELETE FROM loyalty_tier WHERE code = 'member'")

    assert Tier.objects.filter(code="member").exists()


def test_the_entry_tier_goes_last(ladder, system_actor):
    with pytest.raises(ServiceError) as excinfo:
        tier_delete(tier=Tier.objects.get(code="member"), actor=system_actor)
    assert excinfo.value.code == "entry_tier_required"

    for code in ("platinum", "gold", "silver", "member"):
        tier_delete(tier=Tier.objects.get(code=code), actor=system_actor)

    assert Tier.objects.count() == 0
    assert AuditEntry.objects.filter(action="tier.delete").count() == 4


def test_perks_are_validated_and_deleting_one_takes_it_off_its_tiers(ladder, system_actor):
    with pytest.raises(ServiceError) as excinfo:
        perk_save(
            actor=system_actor,
            code="off",
            name="Off",
            kind="discount_percent",
            value=Decimal("120"),
        )
    assert _errors(excinfo) == [("value", "A percentage above 0 and at most 100.")]

    perk_delete(perk=Perk.objects.get(code="free_shipping"), actor=system_actor)

    assert list(
        Tier.objects.get(code="gold").perks.order_by("code").values_list("code", flat=True)
    ) == ["birthday_gift", "early_access"]
    assert AuditEntry.objects.get(action="perk.delete").changes == {
        "code": ["free_shipping", None],
        "tiers": ["silver, gold, platinum", None],
    }
