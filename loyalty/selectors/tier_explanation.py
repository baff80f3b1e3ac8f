"""The member summary's `progress.explanation`: plain sentences in the member's language.

What it takes to move up, and to keep the tier, by when. Every sentence is whole in the catalog
(no fragments glued together), so a translation can order its words freely; money and days are
written the way the member's language writes them (`config.languages`). The caller picks the
language (`loyalty.selectors.program.member_language`); this module only writes.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.utils import timezone, translation
from django.utils.translation import gettext

from config.languages import date_text, money_text

ZERO = Decimal("0.00")
ROLLING_DAYS = 365


def tier_explanation(*, language: str, **facts) -> str:
    """`_explanation`'s sentences in `language` (`en`, `zh-hans`)."""
    with translation.override(language):
        parts = _explanation(**facts)
        # Chinese runs its sentences together; English puts a space between them.
        separator = "" if translation.get_language().startswith("zh") else " "
        return separator.join(parts)


def _reach_sentence(*, spend, currency, next_tier, next_by, calendar_year) -> str:
    remaining = max(next_tier.threshold - spend, ZERO)
    values = {"amount": money_text(remaining, currency), "tier": next_tier.name}
    if remaining == 0:
        return gettext("You qualify for %(tier)s: it is yours from the next daily review.") % values
    if calendar_year and spend == 0 and next_by is not None:
        values["day"] = date_text(next_by)
        return (
            gettext("Spend %(amount)s by %(day)s to reach %(tier)s (spend counts from 1 January).")
            % values
        )
    if next_by is not None:
        values["day"] = date_text(next_by)
        if spend > 0:
            return gettext("Spend %(amount)s more by %(day)s to reach %(tier)s.") % values
        return gettext("Spend %(amount)s by %(day)s to reach %(tier)s.") % values
    values["days"] = ROLLING_DAYS
    if spend > 0:
        return gettext("Spend %(amount)s more within %(days)s days to reach %(tier)s.") % values
    return gettext("Spend %(amount)s within %(days)s days to reach %(tier)s.") % values


def _explanation(
    *,
    state,
    spend: Decimal,
    currency: str,
    next_tier,
    next_by: dt.date | None,
    keep_until: dt.datetime | None,
    keep_tier: dict | None,
    hold_passed: bool,
    calendar_year: bool,
) -> list[str]:
    earned = state.earned
    parts: list[str] = []
    if state.override is not None:
        parts.append(
            gettext(
                "Our team has placed you in %(tier)s until %(day)s; after that your spend "
                "decides your tier."
            )
            % {"tier": state.override.name, "day": date_text(state.override_until)}
        )
    reach = (
        None
        if next_tier is None
        else _reach_sentence(
            spend=spend,
            currency=currency,
            next_tier=next_tier,
            next_by=next_by,
            calendar_year=calendar_year,
        )
    )
    top = reach is None
    if keep_tier is None:
        only = gettext("%(tier)s is our only tier.") % {"tier": earned.name}
        parts.append(only if top else reach)
        return parts
    if not top:
        parts.append(reach)
    keep_remaining = Decimal(keep_tier["remaining"])
    values = {
        "tier": earned.name,
        "amount": money_text(keep_remaining, currency),
        "until": date_text(timezone.localdate(keep_until)),
        "day": date_text(dt.date.fromisoformat(keep_tier["by"])),
    }
    parts.extend(_keep_sentences(values, top=top, hold_passed=hold_passed, met=keep_remaining == 0))
    return parts


def _keep_sentences(values: dict, *, top: bool, hold_passed: bool, met: bool) -> list[str]:
    if hold_passed:
        if top:
            return [
                gettext("You are in %(tier)s, our highest tier.") % values,
                gettext("Spend %(amount)s more today to keep it.") % values,
            ]
        return [gettext("Spend %(amount)s more today to keep %(tier)s.") % values]
    if met:
        if top:
            return [
                gettext("You are in %(tier)s, our highest tier; it is yours until %(until)s.")
                % values
            ]
        return [gettext("%(tier)s is yours until %(until)s.") % values]
    if top:
        return [
            gettext("You are in %(tier)s, our highest tier; it is yours until %(until)s.") % values,
            gettext("Spend %(amount)s more by %(day)s to keep it beyond then.") % values,
        ]
    return [
        gettext(
            "%(tier)s is yours until %(until)s; spend %(amount)s more by %(day)s to keep it "
            "beyond then."
        )
        % values
    ]
