"""Marketing's writes to the tier ladder and the perks; every change audited.

Rules checked here (and by the config import, which shares `tier_fields_problems`,
`perk_fields_problems` and `ladder_problems`):
- codes are slugs; rank ≥ 0; threshold ≥ 0 with two decimals; multiplier ≥ 1.
- the ladder has an entry tier (rank 0, threshold 0) and thresholds strictly increase with
  rank, so "the highest tier whose threshold the spend meets" is always well defined.
- a tier that any member holds or held (tier state, override or history) is never deleted, nor
  the entry tier while others exist.
Edits are serialised: every ladder change locks all tier rows first (few rows).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from itertools import pairwise

from django.db import transaction
from django.db.models import ProtectedError, Q
from django.utils import timezone
from django.utils.translation import gettext

from config.errors import Conflict, ServiceError
from loyalty.models import MemberTier, Perk, Tier, TierChange
from loyalty.models.tiers import PerkKind
from loyalty.selectors.program import program_settings
from loyalty.selectors.tier_metric import threshold_problem
from members.actors import Actor
from members.services import audit_record

SLUG = re.compile(r"^[-a-zA-Z0-9_]+$")
TIER_FIELDS = ("code", "name", "rank", "threshold", "multiplier", "description")
PERK_FIELDS = ("code", "name", "kind", "value", "description")


def _decimal(value) -> Decimal | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def _two_places(number: Decimal) -> bool:
    return number == number.quantize(Decimal("0.01"))


def tier_fields_problems(data: dict) -> list[tuple[str, str]]:
    """(field, message) for each bad field of one tier (not the ladder as a whole)."""
    problems = []
    code = data.get("code")
    if not isinstance(code, str) or not SLUG.match(code) or len(code) > 32:
        problems.append(("code", "A code of 1–32 letters, digits, '-' or '_'."))
    name = data.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 100:
        problems.append(("name", "A name of 1–100 characters."))
    rank = data.get("rank")
    if isinstance(rank, bool) or not isinstance(rank, int) or not 0 <= rank <= 32767:
        problems.append(("rank", "A whole number, 0 or more (0 is the entry tier)."))
    threshold = _decimal(data.get("threshold"))
    if threshold is None or threshold < 0 or not _two_places(threshold):
        problems.append(("threshold", "An amount of 0 or more with at most two decimals."))
    elif threshold >= Decimal("1e10"):
        problems.append(("threshold", "Too large."))
    multiplier = _decimal(data.get("multiplier"))
    if multiplier is None or multiplier < 1 or not _two_places(multiplier):
        problems.append(("multiplier", "A multiplier of 1 or more with at most two decimals."))
    elif multiplier >= 1000:
        problems.append(("multiplier", "Too large."))
    return problems


def perk_fields_problems(data: dict) -> list[tuple[str, str]]:
    problems = []
    code = data.get("code")
    if not isinstance(code, str) or not SLUG.match(code) or len(code) > 64:
        problems.append(("code", "A code of 1–64 letters, digits, '-' or '_'."))
    name = data.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 100:
        problems.append(("name", "A name of 1–100 characters."))
    kind = data.get("kind")
    if kind not in PerkKind.values:
        problems.append(("kind", f"One of {', '.join(PerkKind.values)}."))
    raw = data.get("value")
    value = _decimal(raw)
    if raw is not None and (value is None or value < 0 or not _two_places(value)):
        problems.append(("value", "Empty, or an amount of 0 or more with at most two decimals."))
    elif kind == PerkKind.DISCOUNT_PERCENT and (value is None or not 0 < value <= 100):
        problems.append(("value", "A percentage above 0 and at most 100."))
    elif value is not None and value >= Decimal("1e8"):
        problems.append(("value", "Too large."))
    return problems


def ladder_problems(ladder: Iterable[tuple[str, int, Decimal]]) -> list[tuple[str, str, str]]:
    """(code, field, message) for each rule of the whole ladder of (code, rank, threshold)."""
    rows = sorted(ladder, key=lambda row: row[1])
    if not rows:
        return []
    problems = []
    ranks = [rank for _, rank, _ in rows]
    for code, rank, _ in rows:
        if ranks.count(rank) > 1:
            problems.append((code, "rank", f"Another tier also has rank {rank}."))
    if rows[0][1] != 0:
        problems.append((rows[0][0], "rank", "The lowest tier must have rank 0 (the entry tier)."))
    elif rows[0][2] != 0:
        problems.append((rows[0][0], "threshold", "The entry tier (rank 0) must have threshold 0."))
    for (lower_code, _, lower), (code, _, threshold) in pairwise(rows):
        if threshold <= lower:
            problems.append(
                (
                    code,
                    "threshold",
                    f"Must be above the threshold of {lower_code} ({lower}), "
                    "the tier ranked below it.",
                )
            )
    return problems


def _raise(problems: list[tuple[str, str]]) -> None:
    if problems:
        raise ServiceError(
            "validation_error",
            problems[0][1],
            status=400,
            errors=[{"field": f, "message": m} for f, m in problems],
        )


def tier_validate(*, tier: Tier | None, data: dict) -> None:
    """Raise `validation_error` (every problem, by field) if saving `data` breaks a rule."""
    _raise(tier_fields_problems(data))
    others = list(Tier.objects.exclude(pk=tier.pk) if tier is not None else Tier.objects.all())
    problems = []
    if any(t.code == data["code"] for t in others):
        problems.append(("code", "Another tier already has this code."))
    if any(t.rank == data["rank"] for t in others):
        problems.append(("rank", f"Another tier already has rank {data['rank']}."))
    _raise(problems)
    rank, threshold = data["rank"], Decimal(str(data["threshold"]))
    below = max((t for t in others if t.rank < rank), key=lambda t: t.rank, default=None)
    above = min((t for t in others if t.rank > rank), key=lambda t: t.rank, default=None)
    if rank == 0 and threshold != 0:
        problems.append(("threshold", "The entry tier (rank 0) must have threshold 0."))
    whole = threshold_problem(program_settings().tier_metric, threshold)
    if whole:
        problems.append(("threshold", whole))
    if rank != 0 and not any(t.rank == 0 for t in others):
        problems.append(("rank", "The ladder needs an entry tier with rank 0 (create it first)."))
    if below is not None and threshold <= below.threshold:
        problems.append(
            ("threshold", f"Must be above {below.name}'s threshold ({below.threshold}).")
        )
    if above is not None and threshold >= above.threshold:
        problems.append(
            ("threshold", f"Must be below {above.name}'s threshold ({above.threshold}).")
        )
    _raise(problems)


def tier_write(
    *, tier: Tier | None, data: dict, perks: list[Perk] | None, actor: Actor
) -> tuple[Tier, dict]:
    """Primitive: create or update a tier and its perks, audited; returns (tier, changes).

    No ladder check: the caller validated, runs in a transaction and holds `ladder_lock()`.
    """
    values = {
        "code": data["code"],
        "name": data["name"].strip(),
        "rank": data["rank"],
        "threshold": Decimal(str(data["threshold"])).quantize(Decimal("0.01")),
        "multiplier": Decimal(str(data["multiplier"])).quantize(Decimal("0.01")),
        "description": data.get("description") or "",
    }
    created = tier is None
    tier = tier or Tier()
    changes = {k: (getattr(tier, k, None), v) for k, v in values.items()}
    changes = {k: (old, new) for k, (old, new) in changes.items() if created or old != new}
    for name, value in values.items():
        setattr(tier, name, value)
    if changes:
        tier.updated_at = timezone.now()
        tier.save()
    if perks is not None:
        old = sorted(tier.perks.values_list("code", flat=True)) if not created else []
        new = sorted(p.code for p in perks)
        if old != new:
            tier.perks.set(perks)
            changes["perks"] = (", ".join(old), ", ".join(new))
    if changes:
        audit_record(
            actor=actor,
            action="tier.create" if created else "tier.update",
            target=tier,
            changes=changes,
        )
    return tier, changes


def ladder_lock() -> list[Tier]:
    """Lock every tier row (key order): ladder edits are serialised, so checks stay true."""
    return list(Tier.objects.select_for_update().order_by("pk"))


def tier_save(
    *,
    actor: Actor,
    tier: Tier | None = None,
    code: str,
    name: str,
    rank: int,
    threshold: Decimal,
    multiplier: Decimal,
    description: str = "",
    perks: list[Perk] | None = None,
) -> Tier:
    """Create (`tier=None`) or update a tier and its perks; audited. Raises `validation_error`."""
    data = {
        "code": code,
        "name": name,
        "rank": rank,
        "threshold": threshold,
        "multiplier": multiplier,
        "description": description,
    }
    with transaction.atomic():
        ladder_lock()
        if tier is not None:
            tier = Tier.objects.get(pk=tier.pk)
        tier_validate(tier=tier, data=data)
        tier, _ = tier_write(tier=tier, data=data, perks=perks, actor=actor)
    return tier


def tier_in_use(tier: Tier) -> bool:
    return (
        MemberTier.objects.filter(Q(tier=tier) | Q(override_tier=tier)).exists()
        or TierChange.objects.filter(Q(from_tier=tier) | Q(to_tier=tier)).exists()
    )


def tier_remove(*, tier: Tier, actor: Actor) -> None:
    """Primitive: delete a tier nobody holds or held and nothing uses (else `tier_in_use`)."""
    if tier_in_use(tier):
        raise Conflict(
            "tier_in_use",
            gettext(
                "Tier %(tier_code)s is or was held by members; it cannot be deleted (rename it or "
                "change its threshold instead)."
            )
            % {"tier_code": tier.code},
        )
    # Targeting from apps above this one (a campaign's tiers) is a many-to-many: deleting the
    # tier would silently drop it from the target list, widening the campaign to everyone.
    targeting = sorted(
        str(rel.related_model._meta.verbose_name_plural)
        for rel in Tier._meta.related_objects
        if rel.many_to_many and getattr(tier, rel.get_accessor_name()).exists()
    )
    if targeting:
        raise Conflict(
            "tier_in_use",
            gettext(
                "Tier %(tier_code)s is targeted by %(value)s; it cannot be deleted (change those "
                "first, or rename the tier or change its threshold instead)."
            )
            % {"tier_code": tier.code, "value": ", ".join(targeting)},
        )
    try:
        # A savepoint: a refused delete leaves neither the audit entry nor the perks cleared.
        with transaction.atomic():
            audit_record(
                actor=actor, action="tier.delete", target=tier, changes={"code": (tier.code, None)}
            )
            tier.perks.clear()
            tier.delete()
    except ProtectedError as exc:
        # Something else points at the tier with PROTECT (a reward's `min_tier`, …).
        users = sorted({str(obj._meta.verbose_name_plural) for obj in exc.protected_objects})
        raise Conflict(
            "tier_in_use",
            gettext(
                "Tier %(tier_code)s is still used by %(value)s; it cannot be deleted (change "
                "those first, or rename the tier or change its threshold instead)."
            )
            % {"tier_code": tier.code, "value": ", ".join(users)},
        ) from exc


def tier_delete(*, tier: Tier, actor: Actor) -> None:
    """Delete a tier nobody holds or held; the entry tier only when it is the last one."""
    with transaction.atomic():
        ladder = ladder_lock()
        tier = Tier.objects.get(pk=tier.pk)
        if tier.rank == 0 and len(ladder) > 1:
            raise Conflict(
                "entry_tier_required",
                gettext("The entry tier (rank 0) is needed while other tiers exist."),
            )
        tier_remove(tier=tier, actor=actor)


def perk_write(*, perk: Perk | None, data: dict, actor: Actor) -> tuple[Perk, dict]:
    """Primitive: create or update a perk (validated by the caller), audited."""
    value = data.get("value")
    values = {
        "code": data["code"],
        "name": data["name"].strip(),
        "kind": data["kind"],
        "value": None if value is None else Decimal(str(value)).quantize(Decimal("0.01")),
        "description": data.get("description") or "",
    }
    created = perk is None
    perk = perk or Perk()
    changes = {
        k: (getattr(perk, k, None), v)
        for k, v in values.items()
        if created or getattr(perk, k) != v
    }
    for name, v in values.items():
        setattr(perk, name, v)
    if changes:
        perk.updated_at = timezone.now()
        perk.save()
        audit_record(
            actor=actor,
            action="perk.create" if created else "perk.update",
            target=perk,
            changes=changes,
        )
    return perk, changes


def perk_save(
    *,
    actor: Actor,
    perk: Perk | None = None,
    code: str,
    name: str,
    kind: str,
    value: Decimal | None = None,
    description: str = "",
) -> Perk:
    """Create (`perk=None`) or update a perk; audited. Raises `validation_error`."""
    data = {"code": code, "name": name, "kind": kind, "value": value, "description": description}
    _raise(perk_fields_problems(data))
    with transaction.atomic():
        others = Perk.objects.exclude(pk=perk.pk) if perk is not None else Perk.objects.all()
        if others.filter(code=code).exists():
            _raise([("code", "Another perk already has this code.")])
        if perk is not None:
            perk = Perk.objects.select_for_update().get(pk=perk.pk)
        perk, _ = perk_write(perk=perk, data=data, actor=actor)
    return perk


def perk_remove(*, perk: Perk, actor: Actor) -> None:
    """Primitive: delete a perk; tiers that granted it no longer do (audited)."""
    tiers = ", ".join(perk.tiers.order_by("rank").values_list("code", flat=True))
    audit_record(
        actor=actor,
        action="perk.delete",
        target=perk,
        changes={"code": (perk.code, None), "tiers": (tiers, None)},
    )
    perk.tiers.clear()
    perk.delete()


def perk_delete(*, perk: Perk, actor: Actor) -> None:
    """Delete a perk; the tiers that granted it simply no longer do (audited)."""
    with transaction.atomic():
        perk_remove(perk=Perk.objects.select_for_update().get(pk=perk.pk), actor=actor)
