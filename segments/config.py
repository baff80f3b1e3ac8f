"""The `segments` and `clubs` sections of the program configuration file (`manage.py
program_config`), registered with `loyalty.config_sections` from `SegmentsConfig.ready()`.

- `segments`: every segment by code: `name`, `description`, `kind` (`dynamic` / `frozen`) and
  `conditions` (the JSON tree). A frozen segment's list is data, not configuration: importing a
  new frozen segment creates it and freezes it on the target's members at that moment; an
  existing frozen segment's conditions cannot change (a problem). With `prune`, a segment the
  file leaves out is deleted unless a campaign, reward or message kind uses it (then kept, with
  a note).
- `clubs`: every club by code: `name`, `description`, `perks` (perk codes, the same file's or
  the database's), `join_rules` (a tree, `{}` for none) and `is_active`. With `prune`, a club the
  file leaves out is closed (`is_active` false), never deleted: memberships point at it.

Trees are checked by `segments.conditions.conditions_validate`; a problem's path continues into
the tree (`segments[1].conditions.all[0].field: unknown field 'colour'.`). Export → import →
export is the identity (the trees are stored normalised).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import ProtectedError

from loyalty.config_sections import ConfigProblem, EntryFields, SectionReport, codes_after
from loyalty.models import Perk
from members.actors import Actor
from segments.conditions import conditions_validate
from segments.models import Club, Segment
from segments.services.clubs import club_save
from segments.services.segments import segment_delete, segment_freeze, segment_save

SEGMENT = EntryFields(
    fields=("code", "name", "description", "kind", "conditions"),
    required=("code", "name"),
    texts=("code", "name", "description", "kind"),
)
CLUB = EntryFields(
    fields=("code", "name", "description", "perks", "join_rules", "is_active"),
    required=("code", "name"),
    texts=("code", "name", "description"),
    bools=("is_active",),
)


def segments_export() -> list[dict[str, Any]]:
    return [
        {"code": s.code, "name": s.name, "description": s.description, "kind": s.kind,
         "conditions": s.conditions}
        for s in Segment.objects.order_by("code")
    ]  # fmt: skip


def clubs_export() -> list[dict[str, Any]]:
    clubs = Club.objects.prefetch_related("perks").order_by("code")
    return [
        {"code": c.code, "name": c.name, "description": c.description,
         "perks": sorted(p.code for p in c.perks.all()), "join_rules": c.join_rules,
         "is_active": c.is_active}
        for c in clubs
    ]  # fmt: skip


def _entries(section: str, value: Any, fields: EntryFields, check) -> list[ConfigProblem]:
    if not isinstance(value, list):
        return [ConfigProblem(section, "Must be a list.")]
    problems: list[ConfigProblem] = []
    seen: dict[str, int] = {}
    for i, entry in enumerate(value):
        at = f"{section}[{i}]"
        if not isinstance(entry, dict):
            problems.append(ConfigProblem(at, "Must be an object."))
            continue
        found: list[tuple[str, str]] = []
        values = fields.parse(entry, at, found)
        code = values.get("code")
        if code in seen:
            found.append((f"{at}.code", f"Repeats {section}[{seen[code]}].code."))
        elif code:
            seen[code] = i
        check(entry, values, at, found)
        problems.extend(ConfigProblem(path, message) for path, message in found)
    return problems


def _tree_problem(tree, at: str, found: list, *, empty_ok: bool) -> None:
    if empty_ok and tree in (None, {}):
        return
    try:
        conditions_validate(tree)
    except ValidationError as exc:  # "all[0].field: unknown field …": the path goes on
        where, _, message = exc.messages[0].partition(": ")
        found.append((f"{at}.{where}", message))


def segments_validate(value, *, document: dict, prune: bool) -> list[ConfigProblem]:
    frozen = dict(
        Segment.objects.filter(kind=Segment.Kind.FROZEN).values_list("code", "conditions")
    )

    def check(entry, values, at, found):
        if values.get("kind", "dynamic") not in Segment.Kind.values:
            found.append((f"{at}.kind", f"One of {', '.join(Segment.Kind.values)}."))
        _tree_problem(entry.get("conditions", {}), f"{at}.conditions", found, empty_ok=True)
        code = values.get("code")
        if code in frozen and conditions_normal(entry.get("conditions")) != frozen[code]:
            found.append((f"{at}.conditions", "A frozen segment's conditions cannot change."))

    return _entries("segments", value, SEGMENT, check)


def conditions_normal(tree):
    try:
        return conditions_validate(tree)
    except ValidationError:
        return None


def clubs_validate(value, *, document: dict, prune: bool) -> list[ConfigProblem]:
    perk_codes = codes_after(document, section="perks", model=Perk, prune=prune)

    def check(entry, values, at, found):
        perks = entry.get("perks", [])
        if not isinstance(perks, list) or not all(isinstance(p, str) for p in perks):
            found.append((f"{at}.perks", "A list of perk codes."))
        else:
            found.extend(
                (f"{at}.perks", f"No perk has the code {p!r}.")
                for p in perks
                if p not in perk_codes
            )
        _tree_problem(entry.get("join_rules", {}), f"{at}.join_rules", found, empty_ok=True)

    return _entries("clubs", value, CLUB, check)


def segments_apply(value: list, *, document: dict, prune: bool, actor: Actor) -> SectionReport:
    report = SectionReport(name="segments")
    existing = {s.code: s for s in Segment.objects.select_for_update().order_by("pk")}
    for entry in value:
        code = entry["code"].strip()
        fields = {
            "name": entry["name"].strip(),
            "description": (entry.get("description") or "").strip(),
            "conditions": conditions_validate(entry.get("conditions") or {}),
        }
        segment = existing.get(code)
        if segment is None:
            segment = segment_save(segment=Segment(code=code, **fields), actor=actor)
            if entry.get("kind") == Segment.Kind.FROZEN:
                segment_freeze(segment=segment)
            report.created.append(code)
            continue
        changed = {k: v for k, v in fields.items() if getattr(segment, k) != v}
        for name, new in changed.items():
            setattr(segment, name, new)
        if changed:
            segment_save(segment=segment, actor=actor)
        (report.updated if changed else report.unchanged).append(code)
    if prune:
        keep = {entry["code"].strip() for entry in value}
        for code, segment in sorted(existing.items()):
            if code in keep:
                continue
            try:
                segment_delete(segment=segment, actor=actor)
            except ProtectedError:
                report.notes.append(f"{code} is in use (a campaign, reward or message): kept.")
            else:
                report.deleted.append(code)
    return report


def clubs_apply(value: list, *, document: dict, prune: bool, actor: Actor) -> SectionReport:
    report = SectionReport(name="clubs")
    perks = {p.code: p for p in Perk.objects.all()}
    existing = {c.code: c for c in Club.objects.prefetch_related("perks").order_by("pk")}
    for entry in value:
        code = entry["code"].strip()
        fields = {
            "name": entry["name"].strip(),
            "description": (entry.get("description") or "").strip(),
            "join_rules": conditions_normal(entry["join_rules"]) if entry.get("join_rules") else {},
            "is_active": entry.get("is_active", True),
        }
        wanted = sorted(entry.get("perks", []))
        club = existing.get(code)
        if club is None:
            club_save(club=Club(code=code, **fields), perks=[perks[p] for p in wanted], actor=actor)
            report.created.append(code)
            continue
        changed = {k: v for k, v in fields.items() if getattr(club, k) != v}
        perks_changed = sorted(p.code for p in club.perks.all()) != wanted
        for name, new in changed.items():
            setattr(club, name, new)
        if changed or perks_changed:
            club_save(club=club, perks=[perks[p] for p in wanted], actor=actor)
        (report.updated if changed or perks_changed else report.unchanged).append(code)
    if prune:
        keep = {entry["code"].strip() for entry in value}
        for code, club in sorted(existing.items()):
            if code not in keep and club.is_active:
                club.is_active = False
                club_save(club=club, actor=actor)
                report.updated.append(code)
                report.notes.append(f"{code} is not in the file: closed, not deleted.")
    return report
