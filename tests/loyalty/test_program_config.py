"""The program's rules as a file: `program_config export|import` (spec: config.md)."""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from http import HTTPStatus

import pytest
from django.core.management import CommandError, call_command

from config.errors import ServiceError
from loyalty import config_sections
from loyalty.config_sections import ConfigProblem, SectionReport, register_section
from loyalty.demo import demo_tiers_ensure
from loyalty.models import Perk, ProgramSettings, Tier
from loyalty.selectors.program import program_settings
from loyalty.services.program_config import (
    program_config_export,
    program_config_import,
    program_config_validate,
)
from members.models import AuditEntry
from tests.loyalty.conftest import T0

SPEC_DOCUMENT = {
    "version": 1,
    "settings": {
        "currency": "GBP",
        "earn_rate": "1",
        "point_value": "0.01",
        "pending_days": 14,
        "points_lifetime_days": 365,
        "allow_negative_balance": True,
        "qualification": "rolling_365",
        "tier_metric": "qualifying_spend",
        "growth_sources": [],
        "tier_hold_days": 365,
        "service_adjustment_limit": 1000,
        "service_daily_limit": 1000,
        "locale": "en",
        "launched_at": None,
    },
    "perks": [
        {
            "code": "free_shipping",
            "name": "Free shipping",
            "kind": "free_shipping",
            "value": None,
            "description": "",
        }
    ],
    "tiers": [
        {
            "code": "member",
            "name": "Member",
            "rank": 0,
            "threshold": "0.00",
            "multiplier": "1.00",
            "perks": [],
            "description": "",
        },
        {
            "code": "gold",
            "name": "Gold",
            "rank": 2,
            "threshold": "500.00",
            "multiplier": "1.50",
            "perks": ["free_shipping"],
            "description": "",
        },
    ],
}


@pytest.fixture
def only_loyalty_sections(monkeypatch):
    """The registry as this app alone fills it (rewards/campaigns may register theirs)."""
    sections = {
        k: v for k, v in config_sections._sections.items() if k in ("settings", "perks", "tiers")
    }
    monkeypatch.setattr(config_sections, "_sections", sections)
    return sections


def _import(document, system_actor, **kwargs):
    return program_config_import(document=document, actor=system_actor, **kwargs)


def _problems(document, **kwargs) -> list[str]:
    return [str(p) for p in program_config_validate(document, **kwargs)]


def test_import_on_an_empty_database_then_export_gives_the_same_document(
    db, system_actor, only_loyalty_sections
):
    report = _import(copy.deepcopy(SPEC_DOCUMENT), system_actor)

    assert [str(s) for s in report.sections] == [
        "settings: unchanged 14",
        "perks: created 1 (free_shipping); unchanged 0",
        "tiers: created 2 (member, gold); unchanged 0",
    ]
    assert program_config_export() == SPEC_DOCUMENT


def test_export_prune_import_export_round_trip_of_the_demo_program(
    db, system_actor, only_loyalty_sections
):
    demo_tiers_ensure(actor=system_actor)
    _import({"settings": {"earn_rate": "1.5", "qualification": "calendar_year"}}, system_actor)
    exported = program_config_export()

    _import({"perks": [], "tiers": []}, system_actor, prune=True)
    assert (Tier.objects.count(), Perk.objects.count()) == (0, 0)
    _import(json.loads(json.dumps(exported)), system_actor)

    assert program_config_export() == exported
    assert exported["settings"]["earn_rate"] == "1.5"
    assert exported["tiers"][1] == {
        "code": "silver",
        "name": "Silver",
        "rank": 1,
        "threshold": "250.00",
        "multiplier": "1.25",
        "perks": ["birthday_gift", "free_shipping"],
        "description": "Spend £250 in a year.",
    }


def test_importing_the_same_file_again_changes_nothing(db, system_actor, only_loyalty_sections):
    _import(copy.deepcopy(SPEC_DOCUMENT), system_actor)
    audits = AuditEntry.objects.count()

    report = _import(copy.deepcopy(SPEC_DOCUMENT), system_actor)

    assert report.changed is False
    assert AuditEntry.objects.count() == audits


def test_every_problem_is_listed_with_its_json_path(db, only_loyalty_sections):
    document = copy.deepcopy(SPEC_DOCUMENT)
    document["settings"]["earn_rate"] = 1
    document["settings"]["tier_hold_days"] = -1
    document["settings"]["colour"] = "blue"
    document["perks"][0]["kind"] = "bogus"
    document["tiers"][0]["multiplier"] = "0.50"
    document["tiers"][1]["threshold"] = "abc"
    document["tiers"][1]["perks"] = ["free_shipping", "spa_day"]
    document["rewards"] = []
    document["extras"] = {}

    assert _problems(document) == [
        "rewards: This version cannot import rewards yet (no handler is registered for the "
        "section); remove it from the file to import the rest.",
        "extras: Unknown section; expected one of settings, perks, tiers, segments, clubs, "
        "rewards, campaigns.",
        'settings.earn_rate: A decimal written as a string, e.g. "0.01".',
        "settings.tier_hold_days: A whole number, 0 or more.",
        "settings.colour: Unknown setting.",
        "perks[0].kind: One of free_shipping, priority_support, birthday_gift, early_access, "
        "discount_percent, points_multiplier, custom.",
        "tiers[0].multiplier: A multiplier of 1 or more with at most two decimals.",
        'tiers[1].threshold: A decimal as a string, e.g. "1.50".',
        "tiers[1].perks[1]: No perk has the code 'spa_day'.",
    ]


def test_an_invalid_file_changes_nothing(db, system_actor, only_loyalty_sections):
    document = copy.deepcopy(SPEC_DOCUMENT)
    document["tiers"][1]["rank"] = 0

    with pytest.raises(ServiceError) as excinfo:
        _import(document, system_actor)

    assert (excinfo.value.code, excinfo.value.status) == ("config_invalid", HTTPStatus.BAD_REQUEST)
    assert excinfo.value.errors == [
        {
            "field": "tiers[1].threshold",
            "message": "A multiplier of 1 or more with at most two decimals.",
        }
    ] or excinfo.value.errors[0]["field"].startswith("tiers[1]")
    assert (Perk.objects.count(), Tier.objects.count(), AuditEntry.objects.count()) == (0, 0, 0)


def test_the_ladder_rules_are_checked_on_the_tiers_after_the_import(
    db, system_actor, only_loyalty_sections
):
    demo_tiers_ensure(actor=system_actor)

    # Gold at 1200 would sit above Platinum (kept from the database: no --prune).
    document = {"tiers": [dict(program_config_export()["tiers"][2], threshold="1200.00")]}

    assert _problems(document) == [
        "tiers: Must be above the threshold of gold (1200.00), the tier ranked below it. "
        "(tier platinum, kept from before)"
    ]
    assert _problems({"tiers": [{**document["tiers"][0], "rank": 0}]})[:1] == [
        "tiers[0].rank: Another tier also has rank 0."
    ]


def test_ranks_can_be_swapped_in_one_import(db, system_actor, only_loyalty_sections):
    demo_tiers_ensure(actor=system_actor)
    tiers = program_config_export()["tiers"]
    # Rename the ladder's top two by swapping their ranks and thresholds.
    gold, platinum = tiers[2], tiers[3]
    gold.update(rank=3, threshold="1000.00", multiplier="2.00")
    platinum.update(rank=2, threshold="500.00", multiplier="1.50")

    report = _import({"tiers": [gold, platinum]}, system_actor)

    assert report.sections[0].updated == ["platinum", "gold"]
    assert list(Tier.objects.order_by("rank").values_list("code", flat=True)) == [
        "member",
        "silver",
        "platinum",
        "gold",
    ]


def test_nothing_is_deleted_without_prune(db, system_actor, only_loyalty_sections):
    demo_tiers_ensure(actor=system_actor)

    _import(copy.deepcopy(SPEC_DOCUMENT), system_actor)

    assert Tier.objects.count() == 4
    assert Perk.objects.count() == 5


def test_prune_deletes_what_the_file_leaves_out(db, system_actor, only_loyalty_sections):
    demo_tiers_ensure(actor=system_actor)
    document = copy.deepcopy(SPEC_DOCUMENT)

    report = _import(document, system_actor, prune=True)

    assert [s.deleted for s in report.sections[1:]] == [
        ["birthday_gift", "early_access", "members_discount_10", "priority_support"],
        ["platinum", "silver"],
    ]
    assert list(Tier.objects.order_by("rank").values_list("code", flat=True)) == ["member", "gold"]
    assert AuditEntry.objects.filter(action="tier.delete").count() == 2


def test_prune_refuses_a_tier_members_hold(
    db, member, record_order, system_actor, only_loyalty_sections
):
    demo_tiers_ensure(actor=system_actor)
    record_order(member, "O-1", "300.00", placed_at=T0)  # Silver

    assert _problems(copy.deepcopy(SPEC_DOCUMENT), prune=True) == [
        "tiers: Tier silver is not in the file, but members hold or held it: it cannot be pruned."
    ]


def test_the_currency_cannot_change_once_orders_exist(
    db, member, record_order, only_loyalty_sections
):
    record_order(member, "O-1", "10.00", placed_at=T0)

    assert _problems({"settings": {"currency": "EUR"}}) == [
        "settings.currency: The program already has orders in GBP; its currency cannot change."
    ]


def test_a_dry_run_reports_and_changes_nothing(db, system_actor, only_loyalty_sections):
    demo_tiers_ensure(actor=system_actor)
    tiers = program_config_export()["tiers"]
    tiers[2]["threshold"] = "450.00"

    report = _import({"tiers": tiers}, system_actor, dry_run=True)

    assert (report.dry_run, report.sections[0].updated) == (True, ["gold"])
    assert report.what_if.rows[2].threshold_after == Decimal("450.00")
    assert Tier.objects.get(code="gold").threshold == Decimal("500.00")
    assert AuditEntry.objects.filter(action="tier.update").count() == 0


def test_a_registered_section_takes_part_and_a_failure_rolls_everything_back(
    db, system_actor, only_loyalty_sections
):
    seen = []

    def apply(value, *, document, prune, actor):
        seen.append((value, Perk.objects.filter(code="free_shipping").exists()))
        if value == ["boom"]:
            raise ServiceError("reward_broken", "Broken.")
        return SectionReport(name="rewards", created=list(value))

    def validate(value, *, document, prune):
        return [] if isinstance(value, list) else [ConfigProblem("rewards", "Must be a list.")]

    register_section("rewards", exporter=lambda: ["FIVE_OFF"], validator=validate, applier=apply)

    assert program_config_export()["rewards"] == ["FIVE_OFF"]
    assert _problems({"rewards": {}}) == ["rewards: Must be a list."]
    report = _import({**copy.deepcopy(SPEC_DOCUMENT), "rewards": ["FIVE_OFF"]}, system_actor)
    assert str(report.sections[-1]) == "rewards: created 1 (FIVE_OFF); unchanged 0"
    assert seen == [(["FIVE_OFF"], True)]  # after the perks and tiers, in the same transaction

    document = {**copy.deepcopy(SPEC_DOCUMENT), "rewards": ["boom"]}
    document["perks"][0]["name"] = "Free delivery"
    with pytest.raises(ServiceError):
        _import(document, system_actor)
    assert Perk.objects.get(code="free_shipping").name == "Free shipping"


def test_the_command_exports_and_imports_a_file(
    db, tmp_path, capsys, system_actor, only_loyalty_sections
):
    demo_tiers_ensure(actor=system_actor)
    path = tmp_path / "program.json"

    call_command("program_config", "export", str(path))
    document = json.loads(path.read_text())
    document["tiers"][1]["multiplier"] = "1.30"
    path.write_text(json.dumps(document))
    call_command("program_config", "import", str(path), "--dry-run")

    out = capsys.readouterr().out
    assert "tiers: updated 1 (silver); unchanged 3" in out
    assert "Dry run: nothing was changed." in out
    assert "1 silver: threshold 250.00 -> 250.00, ×1.25 -> ×1.30" in out
    assert Tier.objects.get(code="silver").multiplier == Decimal("1.25")

    call_command("program_config", "import", str(path))
    assert Tier.objects.get(code="silver").multiplier == Decimal("1.30")


def test_the_command_lists_every_problem_and_fails(db, tmp_path, capsys, only_loyalty_sections):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"settings": {"earn_rate": 2}, "campaigns": []}))

    with pytest.raises(CommandError, match="2 problem"):
        call_command("program_config", "import", str(path))

    err = capsys.readouterr().err
    assert "campaigns: This version cannot import campaigns yet" in err
    assert 'settings.earn_rate: A decimal written as a string, e.g. "0.01".' in err
    assert program_settings().earn_rate == ProgramSettings._meta.get_field("earn_rate").default


def test_the_command_refuses_a_file_that_is_not_json(db, tmp_path):
    path = tmp_path / "bad.json"
    path.write_text("{nope")

    with pytest.raises(CommandError, match="not valid JSON"):
        call_command("program_config", "import", str(path))
