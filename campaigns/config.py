"""The `campaigns` section of the program configuration file (`manage.py program_config`).

Registered with `loyalty.config_sections` from `CampaignsConfig.ready()`:
- `campaigns_export()` -> the section: every campaign, by code, with its target tiers' codes;
- `campaigns_validate(value, *, document, prune)` -> every problem as a `ConfigProblem` with its
  JSON path (`campaigns[1].weekdays`), nothing written. `tiers` may name tiers the same file
  creates;
- `campaigns_apply(value, *, document, prune, actor)` -> a `SectionReport`; runs inside the
  import's transaction, after the tiers and rewards: codes are the keys (a known code is updated,
  a new one created, through `campaign_save`, audited field by field). With `prune`, campaigns
  missing from the file are deleted, or switched off when they have history (awards,
  referrals), which must stay.

The fields are the spec's (`code`, `name`, `kind`, `multiplier`, `weekdays`, `day_of_month`,
`starts_at`, `ends_at`, `tiers`, `budget_points`, `per_member_limit`) plus the ones action and
referral campaigns need, `holdout_percent` (0 when absent) and `gift_reward` (a reward's code, or
null: the campaign's gift coupon; the file's own rewards section counts). Multipliers are strings
(`"2.00"`), never JSON numbers; points are integers; times are ISO 8601 with a zone. What the
running campaign has done (`points_awarded`) is history, not configuration: it is neither
exported nor imported. The rules are the admin's (`campaign_validate` and
`Campaign.full_clean`). Export -> import -> export is the identity.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError

from campaigns.models import Campaign
from campaigns.selectors import campaigns_with_awarded
from campaigns.services.manage import (
    EDITABLE_FIELDS,
    campaign_delete,
    campaign_save,
    campaign_validate,
)
from config.errors import ServiceError
from loyalty.config_sections import (
    ConfigProblem,
    EntryFields,
    SectionReport,
    codes_after,
    config_text,
    config_time,
    tier_codes_after,
)
from loyalty.models import Tier
from members.actors import Actor
from rewards.models import Reward

SECTION = "campaigns"
ENTRY = EntryFields(
    fields=("code", *EDITABLE_FIELDS),
    required=("code", "name", "kind", "starts_at"),
    texts=("code", "kind", "name", "description", "action", "action_code", "referee_trigger"),
    counts=("points", "referee_points", "referrer_points", "holdout_percent"),
    optional_counts=("budget_points", "per_member_limit", "monthly_referral_limit", "day_of_month"),
    decimals=("multiplier",),
    times=("starts_at", "ends_at"),
    bools=("is_active",),
)


def campaigns_export() -> list[dict[str, Any]]:
    rows = []
    for c in (
        Campaign.objects.select_related("gift_reward").prefetch_related("tiers").order_by("code")
    ):
        rows.append(
            {
                "code": c.code,
                "name": c.name,
                "description": c.description,
                "kind": c.kind,
                "is_active": c.is_active,
                "starts_at": config_time(c.starts_at),
                "ends_at": config_time(c.ends_at),
                "tiers": sorted(t.code for t in c.tiers.all()),
                "budget_points": c.budget_points,
                "per_member_limit": c.per_member_limit,
                "multiplier": config_text(c.multiplier),
                "weekdays": list(c.weekdays),
                "day_of_month": c.day_of_month,
                "categories": list(c.categories),
                "action": c.action,
                "action_code": c.action_code,
                "points": c.points,
                "referee_points": c.referee_points,
                "referee_trigger": c.referee_trigger,
                "referrer_points": c.referrer_points,
                "monthly_referral_limit": c.monthly_referral_limit,
                "holdout_percent": c.holdout_percent,
                "gift_reward": c.gift_reward.code if c.gift_reward_id else None,
            }
        )
    return rows


def _parse(entry: dict, problems: list[tuple[str, str]], at: str) -> dict[str, Any]:
    """The entry's values as model values (`tiers` as codes, `gift_reward` as `gift_code`: a
    reward's code or None); each malformed one adds a problem."""
    entry = dict(entry)
    given, gift = "gift_reward" in entry, entry.pop("gift_reward", None)
    out = ENTRY.parse(entry, at, problems)
    if given:
        if gift is not None and not isinstance(gift, str):
            problems.append((f"{at}.gift_reward", "A reward's code, or null."))
        else:
            out["gift_code"] = gift.strip() if gift else None
    for name in ("weekdays", "categories", "tiers"):
        if name not in out:
            continue
        item = int if name == "weekdays" else str
        value = out[name]
        if not isinstance(value, list) or any(
            isinstance(v, bool) or not isinstance(v, item) for v in value
        ):
            kind = "whole numbers" if item is int else "strings"
            problems.append((f"{at}.{name}", f"A list of {kind}."))
            del out[name]
    return out


def campaigns_problems(
    entries: Any, *, tier_codes: set[str], reward_codes: set[str] | None = None
) -> list[tuple[str, str]]:
    """Every problem of the section as (JSON path, message); empty when it can be applied."""
    if not isinstance(entries, list):
        return [(SECTION, "Must be a list.")]
    problems: list[tuple[str, str]] = []
    seen: dict[str, int] = {}
    awarded = {c.code: c.points_awarded for c in campaigns_with_awarded().only("code")}
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
        for tier in values.pop("tiers", []):
            if tier not in tier_codes:
                problems.append((f"{at}.tiers", f"No tier has the code {tier!r}."))
        gift = values.pop("gift_code", None)
        if gift and reward_codes is not None and gift not in reward_codes:
            problems.append((f"{at}.gift_reward", f"No reward has the code {gift!r}."))
        if len(problems) > before:
            continue
        campaign = Campaign(**values)
        campaign.gift_reward_id = -1 if gift else None  # the rules ask only whether there is one
        # The admin's rules (one message per field), then the model's (choices, constraints).
        # The budget can't drop below what the running campaign has already awarded.
        try:
            campaign_validate(campaign, points_awarded=awarded.get(code, 0))
            campaign.full_clean(validate_unique=False, exclude=["gift_reward"])
        except ServiceError as exc:
            problems.extend((f"{at}.{e['field']}", e["message"]) for e in exc.errors)
        except ValidationError as exc:
            for name, messages in exc.message_dict.items():
                path = at if name == "__all__" else f"{at}.{name}"
                problems.extend((path, m) for m in messages)
    return problems


def campaigns_validate(value, *, document: dict, prune: bool) -> list[ConfigProblem]:
    problems = campaigns_problems(
        value,
        tier_codes=tier_codes_after(document, prune=prune),
        reward_codes=codes_after(document, section="rewards", model=Reward, prune=prune),
    )
    return [ConfigProblem(path, message) for path, message in problems]


def campaigns_apply(value: list, *, document: dict, prune: bool, actor: Actor) -> SectionReport:
    """Apply a section that `campaigns_validate` found clean."""
    report = SectionReport(name=SECTION)
    tiers = {t.code: t for t in Tier.objects.all()}
    rewards = {r.code: r for r in Reward.objects.all()}
    existing = {c.code: c for c in Campaign.objects.select_for_update().order_by("pk")}
    for entry in value:
        values = _parse(entry, [], SECTION)  # validated before: no problems left to collect
        code = values.pop("code")
        tier_codes = values.pop("tiers", None)
        if "gift_code" in values:
            gift = values.pop("gift_code")
            values["gift_reward"] = rewards[gift] if gift else None
        campaign = existing.get(code)
        if campaign is None:
            campaign_save(
                campaign=Campaign(code=code, **values),
                actor=actor,
                tiers=[tiers[t] for t in tier_codes or []],
            )
            report.created.append(code)
            continue
        changed = {k: v for k, v in values.items() if getattr(campaign, k) != v}
        current_tiers = sorted(campaign.tiers.values_list("code", flat=True))
        tiers_changed = tier_codes is not None and sorted(tier_codes) != current_tiers
        if changed or tiers_changed:
            for name, new in changed.items():
                setattr(campaign, name, new)
            campaign_save(
                campaign=campaign,
                actor=actor,
                tiers=[tiers[t] for t in tier_codes] if tiers_changed else None,
            )
            report.updated.append(code)
        else:
            report.unchanged.append(code)
    if prune:
        keep = {entry["code"].strip() for entry in value}
        for code, campaign in sorted(existing.items()):
            if code in keep:
                continue
            if campaign.awards.exists() or campaign.referrals.exists():
                if campaign.is_active:
                    campaign.is_active = False
                    campaign_save(campaign=campaign, actor=actor)
                    report.updated.append(code)
                report.notes.append(f"{code} has history: switched off instead of deleted.")
            else:
                campaign_delete(campaign=campaign, actor=actor)
                report.deleted.append(code)
    return report
