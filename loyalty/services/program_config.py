"""The program's rules as one JSON document: export, validate, import (`manage.py program_config`).

Format: `docs/config.md` (the spec, `../shared/spec/config.md`), plus `"version": 1`. Sections are
handled through `loyalty.config_sections`; this module registers `settings`, `perks` and
`tiers`. `rewards` and `campaigns` are refused until their apps register a handler.

Import:
1. validates the whole document first: every problem is reported with its JSON path
   (`tiers[1].threshold`), and nothing is written when there is one (`config_invalid`);
2. applies every section, in order, in one transaction: codes are the keys (a known code updates,
   a new one creates); nothing is deleted unless `prune`; every change is audited through the
   services;
3. with `dry_run`, does all of that and rolls it back, so the report is exactly what a real import
   would do.
Members, orders and postings are never in the file. Money and rates are strings in the file (a
JSON number is refused, as in the API), so no value passes through a float.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.utils.translation import gettext

from config.errors import ServiceError
from loyalty.config_sections import (
    SECTION_ORDER,
    ConfigProblem,
    SectionReport,
    codes_after,
    get_section,
    register_section,
    registered_sections,
)
from loyalty.models import Order, Perk, ProgramSettings, Tier
from loyalty.selectors.program import program_settings
from loyalty.selectors.tier_metric import ladder_metric, threshold_problem
from loyalty.selectors.tier_whatif import LadderTier, WhatIf, tier_what_if
from loyalty.services.program import program_settings_update
from loyalty.services.tier_config import (
    ladder_lock,
    ladder_problems,
    perk_fields_problems,
    perk_remove,
    perk_write,
    tier_fields_problems,
    tier_in_use,
    tier_remove,
    tier_write,
)
from members.actors import Actor
from members.models import Language

FORMAT_VERSION = 1
MAX_INT = 2_147_483_647


def _plain_decimal(value: Decimal) -> str:
    """A rate as the file writes it: no exponent, no trailing zeros ("1", "0.01")."""
    text = format(value.normalize(), "f")
    return text


def _money(value: Decimal) -> str:
    return str(value.quantize(Decimal("0.01")))


def _is_decimal_string(value: Any) -> bool:
    if not isinstance(value, str) or not re.fullmatch(r"-?\d+(\.\d+)?", value.strip()):
        return False
    try:
        Decimal(value)
    except InvalidOperation:
        return False
    return True


def _date(value: Any) -> dt.date | None:
    if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        return None


# --- settings --------------------------------------------------------------------------------

_SETTING_RULES: dict[str, tuple[str, Any]] = {
    "currency": ("currency", None),
    "earn_rate": ("rate", None),
    "point_value": ("rate", None),
    "pending_days": ("int", None),
    "points_lifetime_days": ("int", None),
    "allow_negative_balance": ("bool", None),
    "qualification": ("choice", ProgramSettings.Qualification.values),
    "tier_metric": ("choice", ProgramSettings.TierMetric.values),
    "growth_sources": ("sources", ProgramSettings.GrowthSource.values),
    "tier_hold_days": ("int", None),
    "service_adjustment_limit": ("int", None),
    "service_daily_limit": ("int", None),
    "locale": ("choice", Language.values),
    "launched_at": ("date", None),
}


def settings_export() -> dict:
    current = program_settings()
    out = {}
    for name, (kind, _) in _SETTING_RULES.items():
        value = getattr(current, name)
        if kind == "date":
            value = None if value is None else value.isoformat()
        out[name] = _plain_decimal(value) if kind == "rate" else value
    return out


def settings_validate(value, *, document: dict, prune: bool) -> list[ConfigProblem]:
    if not isinstance(value, dict):
        return [ConfigProblem("settings", "Must be an object.")]
    problems = []
    for name, item in value.items():
        path = f"settings.{name}"
        rule = _SETTING_RULES.get(name)
        if rule is None:
            problems.append(ConfigProblem(path, "Unknown setting."))
            continue
        kind, choices = rule
        if kind == "currency":
            if not isinstance(item, str) or not re.fullmatch(r"[A-Z]{3}", item):
                problems.append(ConfigProblem(path, "A three-letter ISO 4217 code, e.g. GBP."))
            elif item != program_settings().currency and Order.objects.exists():
                problems.append(
                    ConfigProblem(
                        path,
                        f"The program already has orders in {program_settings().currency}; "
                        "its currency cannot change.",
                    )
                )
        elif kind == "rate":
            if not _is_decimal_string(item):
                problems.append(ConfigProblem(path, 'A decimal written as a string, e.g. "0.01".'))
            else:
                number = Decimal(item)
                if number < 0 or number >= 1_000_000 or number != number.quantize(Decimal("1e-4")):
                    problems.append(
                        ConfigProblem(path, "0 or more, below 1,000,000, at most 4 decimals.")
                    )
        elif kind == "int":
            if isinstance(item, bool) or not isinstance(item, int) or not 0 <= item <= MAX_INT:
                problems.append(ConfigProblem(path, "A whole number, 0 or more."))
        elif kind == "bool":
            if not isinstance(item, bool):
                problems.append(ConfigProblem(path, "true or false."))
        elif kind == "sources":
            if not isinstance(item, list) or any(source not in choices for source in item):
                problems.append(ConfigProblem(path, f"A list of: {', '.join(choices)}."))
        elif kind == "date":
            if item is not None and _date(item) is None:
                problems.append(ConfigProblem(path, 'A date "YYYY-MM-DD", or null.'))
        elif item not in choices:
            problems.append(ConfigProblem(path, f"One of {', '.join(choices)}."))
    if not problems and "tiers" not in document:
        # The ladder stays as it is: its thresholds must fit the metric after the import.
        metric = _metric_after(document)
        for tier in Tier.objects.order_by("rank"):
            message = threshold_problem(metric, tier.threshold)
            if message:
                problems.append(ConfigProblem("settings.tier_metric", f"{tier.code}: {message}"))
    return problems


def _metric_after(document: dict) -> str:
    """The tier metric once the file is imported."""
    settings = document.get("settings")
    if isinstance(settings, dict) and settings.get("tier_metric") is not None:
        return settings["tier_metric"]
    return program_settings().tier_metric


def settings_apply(value: dict, *, document: dict, prune: bool, actor: Actor) -> SectionReport:
    report = SectionReport(name="settings")
    convert = {"rate": Decimal, "date": lambda item: None if item is None else _date(item)}
    changes = {
        name: convert.get(_SETTING_RULES[name][0], lambda item: item)(item)
        for name, item in value.items()
    }
    current = program_settings()
    changed = sorted(name for name, item in changes.items() if getattr(current, name) != item)
    # A file is a deliberate whole: changing the metric of a live ladder is confirmed by it (its
    # --dry-run report says what moves), and its thresholds are checked in the tiers section.
    program_settings_update(
        actor=actor,
        reason="program_config import",
        confirm_reevaluation=True,
        check_thresholds=False,
        **changes,
    )
    report.updated = changed
    report.unchanged = sorted(set(changes) - set(changed))
    return report


# --- perks -----------------------------------------------------------------------------------

PERK_KEYS = ("code", "name", "kind", "value", "description")


def perks_export() -> list[dict]:
    return [
        {
            "code": p.code,
            "name": p.name,
            "kind": p.kind,
            "value": None if p.value is None else _money(p.value),
            "description": p.description,
        }
        for p in Perk.objects.order_by("code")
    ]


def _entries(value, name: str) -> tuple[list[tuple[int, dict]], list[ConfigProblem]]:
    if not isinstance(value, list):
        return [], [ConfigProblem(name, "Must be a list.")]
    entries, problems = [], []
    for i, item in enumerate(value):
        if isinstance(item, dict):
            entries.append((i, item))
        else:
            problems.append(ConfigProblem(f"{name}[{i}]", "Must be an object."))
    return entries, problems


def _duplicates(entries, name: str, key: str) -> list[ConfigProblem]:
    seen, problems = {}, []
    for i, item in entries:
        value = item.get(key)
        if isinstance(value, (str, int)) and not isinstance(value, bool):
            if value in seen:
                problems.append(
                    ConfigProblem(f"{name}[{i}].{key}", f"Repeats {name}[{seen[value]}].{key}.")
                )
            else:
                seen[value] = i
    return problems


def perks_validate(value, *, document: dict, prune: bool) -> list[ConfigProblem]:
    entries, problems = _entries(value, "perks")
    for i, item in entries:
        path = f"perks[{i}]"
        for key in sorted(set(item) - set(PERK_KEYS)):
            problems.append(ConfigProblem(f"{path}.{key}", "Unknown field."))
        for key in ("code", "name", "kind"):
            if key not in item:
                problems.append(ConfigProblem(f"{path}.{key}", "Required."))
        raw = item.get("value")
        if raw is not None and not _is_decimal_string(raw):
            problems.append(
                ConfigProblem(f"{path}.value", 'null, or a decimal as a string, e.g. "10.00".')
            )
        elif all(key in item for key in ("code", "name", "kind")):
            problems += [
                ConfigProblem(f"{path}.{f}", m)
                for f, m in perk_fields_problems({**item, "value": raw})
            ]
        description = item.get("description", "")
        if not isinstance(description, str):
            problems.append(ConfigProblem(f"{path}.description", "A string."))
    return problems + _duplicates(entries, "perks", "code")


def perks_apply(value: list, *, document: dict, prune: bool, actor: Actor) -> SectionReport:
    report = SectionReport(name="perks")
    existing = {p.code: p for p in Perk.objects.select_for_update().order_by("pk")}
    for item in value:
        data = {**item, "description": item.get("description", "")}
        _, changes = perk_write(perk=existing.get(item["code"]), data=data, actor=actor)
        _record(report, item["code"], created=item["code"] not in existing, changed=changes)
    if prune:
        keep = {item["code"] for item in value}
        for code, perk in sorted(existing.items()):
            if code not in keep:
                perk_remove(perk=perk, actor=actor)
                report.deleted.append(code)
    return report


def _record(report: SectionReport, code: str, *, created: bool, changed: dict) -> None:
    if created:
        report.created.append(code)
    elif changed:
        report.updated.append(code)
    else:
        report.unchanged.append(code)


# --- tiers -----------------------------------------------------------------------------------

TIER_KEYS = ("code", "name", "rank", "threshold", "multiplier", "perks", "description")


def tiers_export() -> list[dict]:
    return [
        {
            "code": t.code,
            "name": t.name,
            "rank": t.rank,
            "threshold": _money(t.threshold),
            "multiplier": _money(t.multiplier),
            "perks": sorted(p.code for p in t.perks.all()),
            "description": t.description,
        }
        for t in Tier.objects.order_by("rank").prefetch_related("perks")
    ]


def tiers_validate(value, *, document: dict, prune: bool) -> list[ConfigProblem]:
    entries, problems = _entries(value, "tiers")
    perk_codes = codes_after(document, section="perks", model=Perk, prune=prune)
    valid: dict[str, tuple[int, dict]] = {}
    for i, item in entries:
        path = f"tiers[{i}]"
        for key in sorted(set(item) - set(TIER_KEYS)):
            problems.append(ConfigProblem(f"{path}.{key}", "Unknown field."))
        mine = []
        for key in ("code", "name", "rank", "threshold", "multiplier"):
            if key not in item:
                mine.append(ConfigProblem(f"{path}.{key}", "Required."))
        for key in ("threshold", "multiplier"):
            if key in item and not _is_decimal_string(item[key]):
                mine.append(ConfigProblem(f"{path}.{key}", 'A decimal as a string, e.g. "1.50".'))
        if not mine:
            mine = [ConfigProblem(f"{path}.{f}", m) for f, m in tier_fields_problems(item)]
        perks = item.get("perks", [])
        if not isinstance(perks, list):
            mine.append(ConfigProblem(f"{path}.perks", "A list of perk codes."))
        else:
            for j, code in enumerate(perks):
                if not isinstance(code, str) or code not in perk_codes:
                    mine.append(
                        ConfigProblem(f"{path}.perks[{j}]", f"No perk has the code {code!r}.")
                    )
        if not isinstance(item.get("description", ""), str):
            mine.append(ConfigProblem(f"{path}.description", "A string."))
        problems += mine
        if not mine:
            valid[item["code"]] = (i, item)
    problems += _duplicates(entries, "tiers", "code") + _duplicates(entries, "tiers", "rank")
    if problems:
        return problems
    # The ladder as it would be after the import: the file's tiers, plus the others unless pruned.
    current = {t.code: t for t in Tier.objects.all()}
    ladder = [(code, item["rank"], Decimal(item["threshold"])) for code, (_, item) in valid.items()]
    if prune:
        for code, tier in sorted(current.items()):
            if code not in valid and tier_in_use(tier):
                problems.append(
                    ConfigProblem(
                        "tiers",
                        f"Tier {code} is not in the file, but members hold or held it: it "
                        "cannot be pruned.",
                    )
                )
    else:
        ladder += [(c, t.rank, t.threshold) for c, t in current.items() if c not in valid]
    metric = _metric_after(document)
    for code, _, threshold in ladder:
        message = threshold_problem(metric, threshold)
        if message and code in valid:
            problems.append(ConfigProblem(f"tiers[{valid[code][0]}].threshold", message))
        elif message:
            problems.append(ConfigProblem("tiers", f"{message} (tier {code}, kept from before)"))
    for code, key, message in ladder_problems(ladder):
        if code in valid:
            problems.append(ConfigProblem(f"tiers[{valid[code][0]}].{key}", message))
        else:
            problems.append(ConfigProblem("tiers", f"{message} (tier {code}, kept from before)"))
    return problems


def tiers_apply(value: list, *, document: dict, prune: bool, actor: Actor) -> SectionReport:
    report = SectionReport(name="tiers")
    existing = {t.code: t for t in ladder_lock()}
    perks = {p.code: p for p in Perk.objects.all()}
    if prune:
        keep = {item["code"] for item in value}
        for code in sorted(set(existing) - keep):
            tier_remove(tier=existing.pop(code), actor=actor)
            report.deleted.append(code)
    # Ranks are unique: park the tiers whose rank changes above every real rank first, so a swap
    # of two ranks never collides half-way.
    moving = [
        item["code"]
        for item in value
        if item["code"] in existing and existing[item["code"]].rank != item["rank"]
    ]
    for n, code in enumerate(moving):
        Tier.objects.filter(pk=existing[code].pk).update(rank=30000 + n)
    for item in sorted(value, key=lambda item: item["rank"]):
        data = {**item, "description": item.get("description", "")}
        _, changes = tier_write(
            tier=existing.get(item["code"]),
            data=data,
            perks=[perks[c] for c in item.get("perks", [])],
            actor=actor,
        )
        _record(report, item["code"], created=item["code"] not in existing, changed=changes)
    problems = ladder_problems([(t.code, t.rank, t.threshold) for t in Tier.objects.all()])
    if problems:  # validated before; a failure here is a bug, and rolls everything back
        raise ServiceError(
            "config_invalid",
            gettext("The tier ladder would break: %(value)s") % {"value": problems[0][2]},
        )
    return report


def tiers_what_if(value, *, prune: bool, document: dict | None = None) -> WhatIf | None:
    """What publishing the file's ladder would do on today's data (None if nothing moves)."""
    current = {t.code: t for t in Tier.objects.all()}
    proposed = [
        LadderTier(
            tier_id=current[item["code"]].pk if item["code"] in current else None,
            code=item["code"],
            name=item["name"],
            rank=item["rank"],
            threshold=Decimal(item["threshold"]),
            multiplier=Decimal(item["multiplier"]),
        )
        for item in value
    ]
    in_file = {t.code for t in proposed}
    if not prune:
        proposed += [
            LadderTier(t.pk, t.code, t.name, t.rank, t.threshold, t.multiplier)
            for code, t in current.items()
            if code not in in_file
        ]
    before = {(t.code, t.rank, t.threshold, t.multiplier) for t in current.values()}
    after = {(t.code, t.rank, t.threshold, t.multiplier) for t in proposed}
    settings = program_settings()
    document = document or {}
    new = document.get("settings") if isinstance(document.get("settings"), dict) else {}
    probe = ProgramSettings(
        tier_metric=_metric_after(document),
        growth_sources=new.get("growth_sources", settings.growth_sources),
    )
    metric = ladder_metric(probe)
    if (before == after and metric == ladder_metric(settings)) or not proposed:
        return None
    return tier_what_if(proposed=proposed, metric=metric)


register_section(
    "settings", exporter=settings_export, validator=settings_validate, applier=settings_apply
)
register_section("perks", exporter=perks_export, validator=perks_validate, applier=perks_apply)
register_section("tiers", exporter=tiers_export, validator=tiers_validate, applier=tiers_apply)


# --- the document ----------------------------------------------------------------------------


@dataclass
class ImportReport:
    dry_run: bool
    sections: list[SectionReport] = field(default_factory=list)
    what_if: WhatIf | None = None

    @property
    def changed(self) -> bool:
        return any(s.created or s.updated or s.deleted for s in self.sections)


def program_config_export() -> dict:
    """The program's rules as a JSON-ready document (every registered section)."""
    return {"version": FORMAT_VERSION, **{s.name: s.exporter() for s in registered_sections()}}


def program_config_validate(document: Any, *, prune: bool = False) -> list[ConfigProblem]:
    """Every problem of the document, with its JSON path; empty when it can be imported."""
    if not isinstance(document, dict):
        return [ConfigProblem("$", "The document must be a JSON object.")]
    problems = []
    if "version" in document and document["version"] != FORMAT_VERSION:
        problems.append(
            ConfigProblem("version", f"This version reads format {FORMAT_VERSION} only.")
        )
    for key in document:
        if key == "version":
            continue
        if key not in SECTION_ORDER:
            problems.append(
                ConfigProblem(key, f"Unknown section; expected one of {', '.join(SECTION_ORDER)}.")
            )
        elif get_section(key) is None:
            problems.append(
                ConfigProblem(
                    key,
                    f"This version cannot import {key} yet (no handler is registered for the "
                    "section); remove it from the file to import the rest.",
                )
            )
    for section in registered_sections():
        if section.name in document:
            problems += section.validator(document[section.name], document=document, prune=prune)
    return problems


def program_config_import(
    *, document: Any, actor: Actor, dry_run: bool = False, prune: bool = False
) -> ImportReport:
    """Validate everything, then apply everything in one transaction (rolled back if `dry_run`).

    Raises `config_invalid` (400) listing every problem (`errors[].field` is the JSON path).
    """
    problems = program_config_validate(document, prune=prune)
    if problems:
        raise ServiceError(
            "config_invalid",
            gettext("The configuration has %(value)s problem(s); nothing was changed.")
            % {"value": len(problems)},
            status=400,
            errors=[{"field": p.path, "message": p.message} for p in problems],
        )
    report = ImportReport(dry_run=dry_run)
    if "tiers" in document:
        report.what_if = tiers_what_if(document["tiers"], prune=prune, document=document)
    with transaction.atomic():
        for section in registered_sections():
            if section.name in document:
                report.sections.append(
                    section.applier(
                        document[section.name], document=document, prune=prune, actor=actor
                    )
                )
        if dry_run:
            transaction.set_rollback(True)
    return report
