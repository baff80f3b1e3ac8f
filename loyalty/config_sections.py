"""The sections of the program configuration file (`manage.py program_config`): a registry.

The file is one JSON object; each top-level key but `version` is a section (`settings`, `perks`,
`tiers`, `rewards`, `campaigns`, in that order). loyalty registers its own three in
`loyalty.services.program_config`; `rewards` and `campaigns` live in apps above this one, so they
register theirs from their `AppConfig.ready()`:

    from loyalty.config_sections import ConfigProblem, SectionReport, register_section

    register_section(
        "rewards",
        exporter=rewards_export,      # () -> JSON-ready list
        validator=rewards_validate,   # (value, *, document, prune) -> list[ConfigProblem]
        applier=rewards_apply,        # (value, *, document, prune, actor) -> SectionReport
    )

Until a section is registered, a file that contains it is refused with a clear error, never
silently ignored. Contract for a section:
- the validator checks everything (shape, types, references to other sections, either in the
  same document or already in the database) and returns every problem with its JSON path from the
  document's root (`rewards[2].min_tier`); it writes nothing;
- the applier runs inside the import's single transaction, after the sections before it, keys
  its entries by `code` (a known code updates, a new one creates), deletes what the file leaves
  out only when `prune` is true, writes through the app's services (audited), and says what it
  did in a `SectionReport`;
- the exporter writes what the applier reads, so export → import → export is the identity.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.utils.dateparse import parse_datetime

# The order sections are validated, applied and exported in (later ones refer to earlier ones).
SECTION_ORDER = ("settings", "perks", "tiers", "rewards", "campaigns")


@dataclass(frozen=True)
class ConfigProblem:
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


@dataclass
class SectionReport:
    name: str
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        parts = []
        for label in ("created", "updated", "deleted"):
            codes = getattr(self, label)
            if codes:
                parts.append(f"{label} {len(codes)} ({', '.join(codes)})")
        parts.append(f"unchanged {len(self.unchanged)}")
        return f"{self.name}: {'; '.join(parts)}"


@dataclass(frozen=True)
class Section:
    name: str
    exporter: Callable[[], object]
    validator: Callable[..., list[ConfigProblem]]
    applier: Callable[..., SectionReport]


_sections: dict[str, Section] = {}


def register_section(
    name: str,
    *,
    exporter: Callable[[], object],
    validator: Callable[..., list[ConfigProblem]],
    applier: Callable[..., SectionReport],
) -> None:
    """Register (or replace, e.g. on a reload) the handler of one section."""
    if name not in SECTION_ORDER:
        raise ValueError(f"unknown configuration section {name!r}; add it to SECTION_ORDER")
    _sections[name] = Section(name=name, exporter=exporter, validator=validator, applier=applier)


def registered_sections() -> list[Section]:
    """The registered sections, in `SECTION_ORDER`."""
    return [_sections[name] for name in SECTION_ORDER if name in _sections]


def get_section(name: str) -> Section | None:
    return _sections.get(name)


# --- helpers the sections share ------------------------------------------------------------------


def config_text(value: Any) -> str | None:
    """A decimal (money, rate, share) as the file writes it: a string, or null."""
    return None if value is None else str(value)


def config_time(value: dt.datetime | None) -> str | None:
    """A time as the file writes it: ISO 8601 in UTC with `Z`, or null."""
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z") if value else None


def config_time_parse(value: Any) -> tuple[dt.datetime | None, str | None]:
    """(time, None) for an ISO 8601 time with a zone or null; (None, message) otherwise."""
    if value is None:
        return None, None
    parsed = parse_datetime(value) if isinstance(value, str) else None
    if parsed is None or parsed.tzinfo is None:
        return None, "An ISO 8601 time with a zone, or null."
    return parsed, None


def tier_codes_after(document: dict, *, prune: bool) -> set[str]:
    """The tier codes that exist once the document's `tiers` section is applied."""
    from loyalty.models import Tier

    tiers = document.get("tiers")
    in_file = {
        t["code"]
        for t in (tiers if isinstance(tiers, list) else [])
        if isinstance(t, dict) and isinstance(t.get("code"), str)
    }
    if prune and isinstance(tiers, list):
        return in_file
    return in_file | set(Tier.objects.values_list("code", flat=True))
