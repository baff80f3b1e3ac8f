"""The `rewards` section of the program configuration file (`manage.py program_config`).

Registered with `loyalty.config_sections` from `RewardsConfig.ready()`:
- `rewards_export()` -> the section: every reward, by code;
- `rewards_validate(value, *, document, prune)` -> every problem as a `ConfigProblem` with its
  JSON path (`rewards[2].sku`), nothing written. `min_tier` may name a tier the same file
  creates; a tier the import would prune may not be the minimum tier of any reward;
- `rewards_apply(value, *, document, prune, actor)` -> a `SectionReport`; runs inside the
  import's transaction, after the tiers: codes are the keys (a known code is updated, a new one
  created, through `rewards.services`, audited); a different `stock` is applied with
  `reward_stock_set` (a stock movement, reason "config import"); with `prune`, rewards missing
  from the file are deleted, or switched off when they have history (redemptions, stock
  movements), which must stay.

Money and shares are strings (`"5.00"`, `"0.50"`), never JSON numbers; points and days are
integers; times are ISO 8601 with a zone, or null. The rules themselves are the model's
(`Reward.full_clean`), so the file and the admin refuse the same things. Export -> import ->
export is the identity.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError

from loyalty.config_sections import (
    ConfigProblem,
    EntryFields,
    SectionReport,
    config_text,
    config_time,
    tier_codes_after,
)
from loyalty.models import Tier
from members.actors import Actor
from rewards.models import Reward, RewardKind
from rewards.services import (
    reward_create,
    reward_delete,
    reward_stock_set,
    reward_update,
)

SECTION = "rewards"
FIELDS = (
    "code",
    "name",
    "description",
    "kind",
    "sku",
    "points_cost",
    "value",
    "stock",
    "per_member_limit",
    "min_tier",
    "active_from",
    "active_to",
    "coupon_valid_days",
    "min_points",
    "min_share",
    "max_share",
    "is_active",
)
ENTRY = EntryFields(
    fields=FIELDS,
    required=("code", "name", "kind"),
    texts=("code", "kind", "name", "description", "sku"),
    counts=("points_cost", "coupon_valid_days"),
    optional_counts=("stock", "per_member_limit", "min_points"),
    optional_decimals=("value", "min_share", "max_share"),
    times=("active_from", "active_to"),
    bools=("is_active",),
)


def rewards_export() -> list[dict[str, Any]]:
    rows = []
    for r in Reward.objects.select_related("min_tier").order_by("code"):
        rows.append(
            {
                "code": r.code,
                "name": r.name,
                "description": r.description,
                "kind": r.kind,
                "sku": r.sku,
                "points_cost": r.points_cost,
                "value": config_text(r.value),
                "stock": r.stock,
                "per_member_limit": r.per_member_limit,
                "min_tier": r.min_tier.code if r.min_tier else None,
                "active_from": config_time(r.active_from),
                "active_to": config_time(r.active_to),
                "coupon_valid_days": r.coupon_valid_days,
                "min_points": r.min_points,
                "min_share": config_text(r.min_share),
                "max_share": config_text(r.max_share),
                "is_active": r.is_active,
            }
        )
    return rows


def _parse(entry: dict, problems: list[tuple[str, str]], at: str) -> dict[str, Any]:
    """The entry's values as model values (`min_tier`: a code); a malformed one adds a problem."""
    out = ENTRY.parse(entry, at, problems)
    if "min_tier" in out and out["min_tier"] is not None and not isinstance(out["min_tier"], str):
        problems.append((f"{at}.min_tier", "A tier code, or null."))
        del out["min_tier"]
    return out


def rewards_problems(entries: Any, *, tier_codes: set[str]) -> list[tuple[str, str]]:
    """Every problem of the section as (JSON path, message); empty when it can be applied."""
    if not isinstance(entries, list):
        return [(SECTION, "Must be a list.")]
    problems: list[tuple[str, str]] = []
    seen: dict[str, int] = {}
    for i, entry in enumerate(entries):
        at = f"{SECTION}[{i}]"
        if not isinstance(entry, dict):
            problems.append((at, "Must be an object."))
            continue
        before = len(problems)
        values = _parse(entry, problems, at)
        code = values.get("code")
        if code in seen:
            problems.append((f"{at}.code", f"Repeats {SECTION}[{seen[code]}].code."))
        elif code:
            seen[code] = i
        if values.get("kind") and values["kind"] not in RewardKind.values:
            problems.append((f"{at}.kind", f"One of {', '.join(RewardKind.values)}."))
        tier = values.pop("min_tier", None)
        if tier is not None and tier not in tier_codes:
            problems.append((f"{at}.min_tier", f"No tier has the code {tier!r}."))
        if len(problems) > before:
            continue
        # The model's own rules (kinds, ranges, window): the same as the admin's.
        try:
            Reward(**values).full_clean(exclude=["min_tier"], validate_unique=False)
        except ValidationError as exc:
            for name, messages in exc.message_dict.items():
                path = at if name == "__all__" else f"{at}.{name}"
                problems.extend((path, m) for m in messages)
    return problems


def rewards_validate(value, *, document: dict, prune: bool) -> list[ConfigProblem]:
    problems = [
        ConfigProblem(path, message)
        for path, message in rewards_problems(
            value, tier_codes=tier_codes_after(document, prune=prune)
        )
    ]
    tiers = document.get("tiers")
    if prune and isinstance(tiers, list):
        # Tiers are applied (and pruned) before rewards: a reward must not hold on to one.
        keep = {t.get("code") for t in tiers if isinstance(t, dict)}
        for code, tier in (
            Reward.objects.filter(min_tier__isnull=False)
            .exclude(min_tier__code__in=keep)
            .values_list("code", "min_tier__code")
            .order_by("code")
        ):
            problems.append(
                ConfigProblem(
                    "tiers",
                    f"Tier {tier} is not in the file, but reward {code} requires it: it cannot "
                    "be pruned (change the reward's min_tier first).",
                )
            )
    return problems


def rewards_apply(value: list, *, document: dict, prune: bool, actor: Actor) -> SectionReport:
    """Apply a section that `rewards_validate` found clean."""
    report = SectionReport(name=SECTION)
    tiers = {t.code: t for t in Tier.objects.all()}
    existing = {r.code: r for r in Reward.objects.select_for_update().order_by("pk")}
    for entry in value:
        values = _parse(entry, [], SECTION)  # validated before: no problems left to collect
        code = values.pop("code")
        if "min_tier" in values:
            values["min_tier"] = tiers[values["min_tier"]] if values["min_tier"] else None
        has_stock = "stock" in values
        stock = values.pop("stock", None)
        reward = existing.get(code)
        if reward is None:
            reward_create(code=code, stock=stock, actor=actor, **values)
            report.created.append(code)
            continue
        changed = {k: v for k, v in values.items() if getattr(reward, k) != v}
        if changed:
            reward_update(reward=reward, actor=actor, reason="config import", **changed)
        if has_stock and reward.stock != stock:
            reward_stock_set(reward=reward, stock=stock, reason="config import", actor=actor)
            changed["stock"] = stock
        (report.updated if changed else report.unchanged).append(code)
    if prune:
        keep = {entry["code"].strip() for entry in value}
        for code, reward in sorted(existing.items()):
            if code in keep:
                continue
            if reward.redemptions.exists() or reward.stock_movements.exists():
                if reward.is_active:
                    reward_update(
                        reward=reward, actor=actor, reason="config import --prune", is_active=False
                    )
                    report.updated.append(code)
                report.notes.append(f"{code} has history: switched off instead of deleted.")
            else:
                reward_delete(reward=reward, actor=actor)
                report.deleted.append(code)
    return report
