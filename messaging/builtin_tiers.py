"""The tier kinds: upgraded, downgraded (from the tier history), at risk (before a hold ends).

Set-based: upgrades and downgrades are one query over `TierChange` by kind and time (its
`tierchange_kind_at_idx`), the changes of the last two days (a day the step missed is caught up;
the change's id is the subject key, so none is told twice). "At risk" is one query over the
members' tier states whose hold ends in N days (default 30), with the window's figure (the
ladder's metric: spend, orders or growth value, `loyalty.selectors.tier_metric`) below the
tier's threshold as a correlated aggregate, no override in force and not
the entry tier (which cannot be lost). Its text reuses the member summary's explanation
sentence (`loyalty.selectors.tier_explanation`) in the message's language.
"""

from __future__ import annotations

import datetime as dt

from django.db.models import F, Q, Value
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from messaging.builtin import (
    HELLO_EN,
    HELLO_ZH,
    UNSUBSCRIBE_EN,
    UNSUBSCRIBE_ZH,
    day_bounds,
    lookback_bounds,
    template,
)
from messaging.context import date_text
from messaging.kinds import Kind, register_kind


def _changes(kind: str, *, as_of: dt.date):
    from loyalty.models import TierChange

    start, end = lookback_bounds(as_of)
    return (
        TierChange.objects.filter(kind=kind, at__gte=start, at__lt=end, to_tier__isnull=False)
        .values("member_id", "id", "at", tier=F("to_tier__code"))
        .order_by("member_id", "id")
    )


def tier_upgraded_plan(*, as_of: dt.date, days: tuple[int, ...]):
    return [_changes("upgrade", as_of=as_of)]


def tier_downgraded_plan(*, as_of: dt.date, days: tuple[int, ...]):
    return [_changes("downgrade", as_of=as_of)]


def tier_change_params(row: dict) -> tuple[str, dict]:
    at = timezone.localdate(row["at"]).isoformat()
    return str(row["id"]), {"tier_change_id": row["id"], "tier": row["tier"], "date": at}


def _tier(code: str):
    from loyalty.models import Tier

    return Tier.objects.prefetch_related("perks").filter(code=code).first()


def tier_change_context(*, params: dict, locale: str, member) -> dict:
    tier = _tier(params["tier"])
    perks = sorted(tier.perks.all(), key=lambda p: (p.name, p.code)) if tier else []
    return {
        "tier_name": tier.name if tier else params["tier"],
        "perks": [perk.name for perk in perks],
        "date": date_text(params["date"], locale),
    }


TIER_VARIABLES = {
    "tier_name": _("the tier's name"),
    "perks": _("the tier's perks (a list: use {% for perk in perks %})"),
    "date": _("the day of the change"),
}
PERKS_EN = '{% if perks %}Your perks: {{ perks|join:", " }}.{% endif %}'
PERKS_ZH = '{% if perks %}您的权益：{{ perks|join:"、" }}。{% endif %}'

TIER_UPGRADED = Kind(
    code="tier_upgraded",
    label=_("Tier upgraded"),
    promotional=False,
    variables=TIER_VARIABLES,
    context=tier_change_context,
    sample={"tier_change_id": 0, "tier": "gold", "date": "2027-01-31"},
    planner=tier_upgraded_plan,
    params_of=tier_change_params,
    defaults={
        "en": template(
            "Congratulations: you are now {{ tier_name }}",
            HELLO_EN,
            "Since {{ date }} you are a {{ tier_name }} member of {{ program_name }}. " + PERKS_EN,
            UNSUBSCRIBE_EN,
        ),
        "zh-hans": template(
            "恭喜您升级为{{ tier_name }}",
            HELLO_ZH,
            "自 {{ date }} 起，您已成为{{ program_name }}的{{ tier_name }}会员。" + PERKS_ZH,
            UNSUBSCRIBE_ZH,
        ),
    },
)

TIER_DOWNGRADED = Kind(
    code="tier_downgraded",
    label=_("Tier downgraded"),
    promotional=False,
    variables=TIER_VARIABLES,
    context=tier_change_context,
    sample={"tier_change_id": 0, "tier": "silver", "date": "2027-01-31"},
    planner=tier_downgraded_plan,
    params_of=tier_change_params,
    defaults={
        "en": template(
            "Your tier is now {{ tier_name }}",
            HELLO_EN,
            "Since {{ date }} your {{ program_name }} tier is {{ tier_name }}. " + PERKS_EN,
            UNSUBSCRIBE_EN,
        ),
        "zh-hans": template(
            "您的等级已变为{{ tier_name }}",
            HELLO_ZH,
            "自 {{ date }} 起，您在{{ program_name }}的等级为{{ tier_name }}。" + PERKS_ZH,
            UNSUBSCRIBE_ZH,
        ),
    },
)


# --- at risk ----------------------------------------------------------------------------------


def tier_at_risk_plan(*, as_of: dt.date, days: tuple[int, ...]):
    from loyalty.models import MemberTier
    from loyalty.selectors.program import program_settings
    from loyalty.selectors.tier_metric import ladder_metric, metric_subquery
    from loyalty.selectors.tiers import qualification_window, start_of_day

    program = program_settings()
    metric = ladder_metric(program)
    plans = []
    for before in sorted(set(days), reverse=True):
        hold_day = as_of + dt.timedelta(days=before)
        # The spend that will still count when the hold ends, if the member buys nothing more:
        # the window as of the end of that day (a rolling window drops the oldest orders by
        # then), as the evaluation after the hold will see it.
        end_of_hold_day = start_of_day(hold_day + dt.timedelta(days=1)) - dt.timedelta(
            microseconds=1
        )
        window = qualification_window(as_of=end_of_hold_day, qualification=program.qualification)
        # The ladder's metric (spend, orders or growth value; `loyalty.selectors.tier_metric`).
        figure = metric_subquery(metric=metric, window=window)
        # The hold ends (qualified_at + hold days) on `hold_day`.
        start, end = day_bounds(hold_day - dt.timedelta(days=program.tier_hold_days))
        plans.append(
            MemberTier.objects.filter(
                qualified_at__gte=start, qualified_at__lt=end, tier__rank__gt=0
            )
            .filter(Q(override_until__isnull=True) | Q(override_until__lt=as_of))
            .annotate(figure=figure)
            .filter(figure__lt=F("tier__threshold"))
            .values("member_id", tier_code=F("tier__code"))
            .annotate(hold_until=Value(hold_day.isoformat()))
            .order_by("member_id")
        )
    return plans


def tier_at_risk_params(row: dict) -> tuple[str, dict]:
    return f"{row['tier_code']}/{row['hold_until']}", {
        "tier": row["tier_code"],
        "hold_until": row["hold_until"],
    }


def tier_at_risk_context(*, params: dict, locale: str, member) -> dict:
    from loyalty.selectors.tiers import member_tier_summary

    tier = _tier(params["tier"])
    summary = member_tier_summary(member) if member.pk else {"progress": None}
    progress = summary.get("progress") or {}
    return {
        "tier_name": tier.name if tier else params["tier"],
        "hold_until": date_text(params["hold_until"], locale),
        "explanation": progress.get("explanation", ""),
    }


TIER_AT_RISK = Kind(
    code="tier_at_risk",
    label=_("Tier at risk"),
    promotional=False,
    variables={
        "tier_name": _("the tier's name"),
        "hold_until": _("the day the tier's hold ends"),
        "explanation": _("what it takes to keep the tier (the member summary's sentence)"),
    },
    context=tier_at_risk_context,
    sample={"tier": "gold", "hold_until": "2027-01-31"},
    default_days=(30,),
    planner=tier_at_risk_plan,
    params_of=tier_at_risk_params,
    defaults={
        "en": template(
            "Keep your {{ tier_name }} tier",
            HELLO_EN,
            "Your {{ tier_name }} tier is held until {{ hold_until }}. {{ explanation }}",
            UNSUBSCRIBE_EN,
        ),
        "zh-hans": template(
            "保住您的{{ tier_name }}等级",
            HELLO_ZH,
            "您的{{ tier_name }}等级保留至 {{ hold_until }}。{{ explanation }}",
            UNSUBSCRIBE_ZH,
        ),
    },
)


def register_tier_kinds() -> None:
    for kind in (TIER_UPGRADED, TIER_AT_RISK, TIER_DOWNGRADED):
        register_kind(kind)
