"""The `campaigns` section of `manage.py program_config`: the spec's entry, round trips, problems
with their JSON paths, tier references and pruning."""

from __future__ import annotations

import copy
import datetime as dt
from decimal import Decimal

import pytest

from campaigns.models import Campaign
from campaigns.services.actions import activity_record
from config.errors import ServiceError
from loyalty.services.program_config import (
    program_config_export,
    program_config_import,
    program_config_validate,
)
from members.models import AuditEntry
from tests.campaigns.factories import make_campaign

TIERS = [
    {"code": "member", "name": "Member", "rank": 0, "threshold": "0.00", "multiplier": "1.00",
     "perks": []},
    {"code": "gold", "name": "Gold", "rank": 2, "threshold": "500.00", "multiplier": "1.50",
     "perks": []},
]  # fmt: skip
# The spec's entry, as `../shared/spec/config.md` writes it.
SPEC_CAMPAIGN = {
    "code": "DOUBLE_FRIDAY",
    "name": "Double points Fridays",
    "kind": "multiplier",
    "multiplier": "2.00",
    "weekdays": [5],
    "day_of_month": None,
    "starts_at": "2026-01-01T00:00:00Z",
    "ends_at": None,
    "tiers": [],
    "budget_points": None,
    "per_member_limit": None,
}


def _section(report, name="campaigns"):
    return next(s for s in report.sections if s.name == name)


def _problems(document, **kwargs) -> list[str]:
    return [str(p) for p in program_config_validate(document, **kwargs)]


def test_the_spec_entry_imports_and_exports_back_with_every_field(db, system_actor):
    report = program_config_import(
        document={"campaigns": [copy.deepcopy(SPEC_CAMPAIGN)]}, actor=system_actor
    )

    assert str(_section(report)) == "campaigns: created 1 (DOUBLE_FRIDAY); unchanged 0"
    campaign = Campaign.objects.get(code="DOUBLE_FRIDAY")
    assert (campaign.multiplier, campaign.weekdays, campaign.starts_at) == (
        Decimal("2.00"),
        [5],
        dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
    )
    assert program_config_export()["campaigns"] == [
        {
            **SPEC_CAMPAIGN,
            "description": "",
            "is_active": True,
            "categories": [],
            "action": "",
            "action_code": "",
            "points": 0,
            "referee_points": 0,
            "referee_trigger": "first_order",
            "referrer_points": 0,
            "monthly_referral_limit": None,
            "holdout_percent": 0,
            "gift_reward": None,
        }
    ]
    assert AuditEntry.objects.filter(action="campaign.create").count() == 1


def test_export_import_export_is_the_identity_and_a_second_import_changes_nothing(db, system_actor):
    program_config_import(document={"tiers": TIERS}, actor=system_actor)
    make_campaign(
        "review", "action", action="review", points=50, budget_points=5000, holdout_percent=10
    )
    make_campaign(
        "gold-days", "multiplier", multiplier=Decimal("3.00"), day_of_month=15,
        categories=["shoes"], ends_at=dt.datetime(2027, 1, 1, tzinfo=dt.UTC),
    )  # fmt: skip
    Campaign.objects.get(code="gold-days").tiers.set([])
    exported = program_config_export()

    report = program_config_import(document=exported, actor=system_actor)

    assert _section(report).unchanged == ["gold-days", "review"]
    assert program_config_export() == exported


def test_an_import_updates_fields_and_target_tiers_audited(db, system_actor):
    program_config_import(
        document={"tiers": TIERS, "campaigns": [copy.deepcopy(SPEC_CAMPAIGN)]}, actor=system_actor
    )
    changed = {**SPEC_CAMPAIGN, "multiplier": "2.50", "tiers": ["gold"]}

    report = program_config_import(document={"campaigns": [changed]}, actor=system_actor)

    assert _section(report).updated == ["DOUBLE_FRIDAY"]
    campaign = Campaign.objects.get(code="DOUBLE_FRIDAY")
    assert campaign.multiplier == Decimal("2.50")
    assert [t.code for t in campaign.tiers.all()] == ["gold"]
    entry = AuditEntry.objects.filter(action="campaign.change").get()
    assert entry.changes["multiplier"] == ["2.00", "2.50"]


def test_target_tiers_may_be_created_by_the_same_file_and_unknown_ones_are_named(db):
    good = {"tiers": TIERS, "campaigns": [{**SPEC_CAMPAIGN, "tiers": ["gold"]}]}
    bad = {"campaigns": [{**SPEC_CAMPAIGN, "tiers": ["gold"]}]}

    assert _problems(good) == []
    assert _problems(bad) == ["campaigns[0].tiers: No tier has the code 'gold'."]


def test_every_problem_is_listed_with_its_json_path_and_nothing_is_written(db, system_actor):
    document = {
        "campaigns": [
            {**SPEC_CAMPAIGN, "multiplier": 2, "colour": "red"},
            {**SPEC_CAMPAIGN, "code": "DOUBLE_FRIDAY", "weekdays": [8]},
            {**SPEC_CAMPAIGN, "code": "LATE", "starts_at": "2026-01-01", "kind": "lottery"},
            {**SPEC_CAMPAIGN, "code": "SHORT", "ends_at": "2025-12-31T00:00:00Z"},
            {"code": "REVIEW", "name": "Reviews", "kind": "action", "starts_at": None},
            "not an object",
        ]
    }

    assert _problems(document) == [
        "campaigns[0].colour: Unknown field.",
        'campaigns[0].multiplier: A decimal written as a string, e.g. "2.00".',
        "campaigns[1].code: Repeats campaigns[0].code.",
        "campaigns[2].starts_at: An ISO 8601 time with a zone, or null.",
        "campaigns[3].ends_at: The campaign must end after it starts.",
        "campaigns[4].starts_at: Required.",
        "campaigns[5]: Must be an object.",
    ]
    with pytest.raises(ServiceError) as raised:
        program_config_import(document=document, actor=system_actor)
    assert raised.value.code == "config_invalid"
    assert Campaign.objects.count() == 0


def test_the_admins_rules_apply_to_the_file(db):
    document = {
        "campaigns": [
            {**SPEC_CAMPAIGN, "weekdays": [8]},
            {**SPEC_CAMPAIGN, "code": "LOTTERY", "kind": "lottery"},
            {"code": "REVIEW", "name": "Reviews", "kind": "action",
             "starts_at": "2026-01-01T00:00:00Z"},
        ]
    }  # fmt: skip

    assert _problems(document) == [
        "campaigns[0].weekdays: Weekdays are ISO numbers 1 (Monday) to 7 (Sunday).",
        "campaigns[1].kind: Value 'lottery' is not a valid choice.",
        "campaigns[2].action: Choose the action that earns the bonus.",
    ]


def test_prune_deletes_unused_campaigns_and_switches_off_those_with_awards(
    db, member, system_actor
):
    make_campaign("review", "action", action="review", points=50)
    make_campaign("unused", "action", action="review", points=10, is_active=False)
    activity_record(member=member, type="review", reference="R-1", actor=system_actor)

    report = program_config_import(
        document={"campaigns": [copy.deepcopy(SPEC_CAMPAIGN)]}, actor=system_actor, prune=True
    )

    section = _section(report)
    assert (section.created, section.updated, section.deleted) == (
        ["DOUBLE_FRIDAY"],
        ["review"],
        ["unused"],
    )
    assert section.notes == ["review has history: switched off instead of deleted."]
    assert sorted(Campaign.objects.values_list("code", "is_active")) == [
        ("DOUBLE_FRIDAY", True),
        ("review", False),
    ]
    assert AuditEntry.objects.filter(action="campaign.delete").count() == 1


def test_a_budget_below_what_the_campaign_already_awarded_is_refused(db, member, system_actor):
    make_campaign("review", "action", action="review", points=50, budget_points=1000)
    activity_record(member=member, type="review", reference="R-1", actor=system_actor)
    entry = {**program_config_export()["campaigns"][0], "budget_points": 40, "day_of_month": 32}

    assert _problems({"campaigns": [entry]}) == [
        "campaigns[0].day_of_month: The member day is a day of the month, 1 to 31.",
    ]
    assert _problems({"campaigns": [{**entry, "day_of_month": None}]}) == [
        "campaigns[0].budget_points: The campaign has already awarded 50 points; the budget "
        "cannot be lower.",
    ]


def test_the_whole_demo_program_survives_export_prune_import_export(db, system_actor):
    from campaigns.demo import demo_campaigns_ensure
    from loyalty.demo import demo_tiers_ensure
    from rewards.demo import demo_rewards_ensure

    demo_tiers_ensure()
    demo_rewards_ensure()
    demo_campaigns_ensure()
    exported = program_config_export()
    assert [c["code"] for c in exported["campaigns"]] == sorted(
        Campaign.objects.values_list("code", flat=True)
    )

    report = program_config_import(document=exported, actor=system_actor, prune=True)

    assert all(not (s.created or s.updated or s.deleted) for s in report.sections)
    assert program_config_export() == exported


def test_a_tier_a_campaign_targets_is_not_deleted(db, system_actor):
    from loyalty.models import Tier
    from loyalty.services.tier_config import tier_delete

    program_config_import(document={"tiers": TIERS}, actor=system_actor)
    gold = Tier.objects.get(code="gold")
    make_campaign("gold-days", "multiplier", tiers=[gold])

    with pytest.raises(ServiceError) as raised:
        tier_delete(tier=gold, actor=system_actor)

    assert (raised.value.code, raised.value.message) == (
        "tier_in_use",
        "Tier gold is targeted by campaigns; it cannot be deleted (change those first, or "
        "rename the tier or change its threshold instead).",
    )
    assert [t.code for t in Campaign.objects.get(code="gold-days").tiers.all()] == ["gold"]
    with pytest.raises(ServiceError) as raised:
        program_config_import(document={"tiers": TIERS[:1]}, actor=system_actor, prune=True)
    assert Tier.objects.filter(code="gold").exists()


def test_the_file_carries_a_campaigns_gift_reward_by_code(db, system_actor):
    from rewards.services import reward_create

    cake = reward_create(
        code="CAKE", name="Cake", kind="free_shipping", points_cost=100, actor=system_actor
    )
    entry = {
        "code": "bday",
        "name": "Birthday cake",
        "kind": "action",
        "action": "birthday",
        "points": 0,
        "starts_at": "2026-01-01T00:00:00Z",
        "gift_reward": "CAKE",
    }

    assert _problems({"campaigns": [{**entry, "gift_reward": "NOPE"}]}) == [
        "campaigns[0].gift_reward: No reward has the code 'NOPE'."
    ]
    program_config_import(document={"campaigns": [entry]}, actor=system_actor)

    assert Campaign.objects.get(code="bday").gift_reward_id == cake.pk
    exported = program_config_export()["campaigns"]
    assert exported[0]["gift_reward"] == "CAKE"
    # the identity: importing the export changes nothing
    report = program_config_import(document={"campaigns": exported}, actor=system_actor)
    assert str(_section(report)) == "campaigns: unchanged 1"
