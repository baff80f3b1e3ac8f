"""The sections of the program configuration file (`manage.py program_config`): a registry.

The file is one JSON object; each top-level key but `version` is a section (`settings`, `perks`,
`tiers`, `segments`, `clubs`, `rewards`, `campaigns`, in that order). loyalty registers its own
three in `loyalty.services.program_config`; the others live in apps above this one, so they
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
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils.dateparse import parse_datetime

# The order sections are validated, applied and exported in (later ones refer to earlier ones).
SECTION_ORDER = ("settings", "perks", "tiers", "segments", "clubs", "rewards", "campaigns")


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


def codes_after(document: dict, *, section: str, model, prune: bool) -> set[str]:
    """The codes of `model` that exist once the document's `section` is applied."""
    entries = document.get(section)
    in_file = {
        e["code"]
        for e in (entries if isinstance(entries, list) else [])
        if isinstance(e, dict) and isinstance(e.get("code"), str)
    }
    if prune and isinstance(entries, list):
        return in_file
    return in_file | set(model.objects.values_list("code", flat=True))


def tier_codes_after(document: dict, *, prune: bool) -> set[str]:
    """The tier codes that exist once the document's `tiers` section is applied."""
    from loyalty.models import Tier

    return codes_after(document, section="tiers", model=Tier, prune=prune)


@dataclass(frozen=True)
class EntryFields:
    """How a section's entries are read: which fields exist and what type each one is.

    `parse(entry, at, problems)` turns one JSON object into model values, adding one
    `(path, message)` problem per unknown, missing or malformed field; what is not given is left
    out (an update changes only what the file says). Money, rates and shares are decimal strings,
    counts are whole numbers >= 0, times ISO 8601 with a zone.
    """

    fields: tuple[str, ...]
    required: tuple[str, ...] = ()
    texts: tuple[str, ...] = ()
    counts: tuple[str, ...] = ()
    optional_counts: tuple[str, ...] = ()
    decimals: tuple[str, ...] = ()
    optional_decimals: tuple[str, ...] = ()
    times: tuple[str, ...] = ()
    bools: tuple[str, ...] = ()

    def parse(self, entry: dict, at: str, problems: list[tuple[str, str]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in sorted(set(entry) - set(self.fields)):
            problems.append((f"{at}.{name}", "Unknown field."))
        for name in self.required:
            value = entry.get(name)
            if value is None or (isinstance(value, str) and not value.strip()):
                problems.append((f"{at}.{name}", "Required."))
        for name in self.fields:
            if name not in entry or (entry[name] is None and name in self.texts):
                continue
            value, message = self._value(name, entry[name])
            if message:
                if name not in self.required or entry[name] is not None:
                    problems.append((f"{at}.{name}", message))
            else:
                out[name] = value
        return out

    def _value(self, name: str, value: Any) -> tuple[Any, str | None]:
        if name in self.texts:
            if isinstance(value, str):
                return value.strip(), None
            return None, "A string."
        if name in self.counts or name in self.optional_counts:
            if value is None and name in self.optional_counts:
                return None, None
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                return None, "A whole number, 0 or more."
            return value, None
        if name in self.decimals or name in self.optional_decimals:
            if value is None and name in self.optional_decimals:
                return None, None
            try:
                if not isinstance(value, str):
                    raise InvalidOperation
                number = Decimal(value)
                if not number.is_finite():
                    raise InvalidOperation
                return number, None
            except InvalidOperation:
                tail = ", or null" if name in self.optional_decimals else ""
                return None, f'A decimal written as a string, e.g. "2.00"{tail}.'
        if name in self.times:
            return config_time_parse(value)
        if name in self.bools:
            if isinstance(value, bool):
                return value, None
            return None, "true or false."
        return value, None  # the section checks it itself
