"""The member summary's `progress.explanation`: plain sentences in the member's language.

What it takes to move up, and to keep the tier, by when. Every sentence is whole in the catalog
(no fragments glued together), so a translation can order its words freely; money and days are
written the way the member's language writes them (`config.languages`). The caller picks the
language (`loyalty.selectors.program.member_language`); this module only writes. Each sentence
that names an amount exists once per tier metric (`loyalty.selectors.tier_metric`): money for
spend, a number of orders or of growth points (with its plural forms) for the others.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.utils import timezone, translation
from django.utils.translation import gettext, ngettext

from config.languages import date_text, money_text
from loyalty.models.program import TierMetric

ZERO = Decimal("0.00")
ROLLING_DAYS = 365


def tier_explanation(*, language: str, **facts) -> str:
    """`_explanation`'s sentences in `language` (`en`, `zh-hans`)."""
    with translation.override(language):
        parts = _explanation(**facts)
        # Chinese runs its sentences together; English puts a space between them.
        separator = "" if translation.get_language().startswith("zh") else " "
        return separator.join(parts)


def _counted(metric, key: str, count: int, values: dict) -> str:
    """The sentence `key` for a ladder counting orders or growth value, `count` in it."""
    values = {**values, "count": count}
    orders = metric.name == TierMetric.ORDERS
    if key == "reach_calendar":
        text = (
            ngettext(
                "Place %(count)s order by %(day)s to reach %(tier)s (orders count from 1 January).",
                "Place %(count)s orders by %(day)s to reach %(tier)s (orders count from "
                "1 January).",
                count,
            )
            if orders
            else ngettext(
                "Earn %(count)s growth point by %(day)s to reach %(tier)s (growth value counts "
                "from 1 January).",
                "Earn %(count)s growth points by %(day)s to reach %(tier)s (growth value counts "
                "from 1 January).",
                count,
            )
        )
    elif key == "reach_more_by":
        text = (
            ngettext(
                "Place %(count)s more order by %(day)s to reach %(tier)s.",
                "Place %(count)s more orders by %(day)s to reach %(tier)s.",
                count,
            )
            if orders
            else ngettext(
                "Earn %(count)s more growth point by %(day)s to reach %(tier)s.",
                "Earn %(count)s more growth points by %(day)s to reach %(tier)s.",
                count,
            )
        )
    elif key == "reach_by":
        text = (
            ngettext(
                "Place %(count)s order by %(day)s to reach %(tier)s.",
                "Place %(count)s orders by %(day)s to reach %(tier)s.",
                count,
            )
            if orders
            else ngettext(
                "Earn %(count)s growth point by %(day)s to reach %(tier)s.",
                "Earn %(count)s growth points by %(day)s to reach %(tier)s.",
                count,
            )
        )
    elif key == "reach_more_within":
        text = (
            ngettext(
                "Place %(count)s more order within %(days)s days to reach %(tier)s.",
                "Place %(count)s more orders within %(days)s days to reach %(tier)s.",
                count,
            )
            if orders
            else ngettext(
                "Earn %(count)s more growth point within %(days)s days to reach %(tier)s.",
                "Earn %(count)s more growth points within %(days)s days to reach %(tier)s.",
                count,
            )
        )
    elif key == "reach_within":
        text = (
            ngettext(
                "Place %(count)s order within %(days)s days to reach %(tier)s.",
                "Place %(count)s orders within %(days)s days to reach %(tier)s.",
                count,
            )
            if orders
            else ngettext(
                "Earn %(count)s growth point within %(days)s days to reach %(tier)s.",
                "Earn %(count)s growth points within %(days)s days to reach %(tier)s.",
                count,
            )
        )
    else:
        text = _counted_keep(orders, key, count)
    return text % values


def _counted_keep(orders: bool, key: str, count: int) -> str:
    if key == "keep_today_it":
        if orders:
            return ngettext(
                "Place %(count)s more order today to keep it.",
                "Place %(count)s more orders today to keep it.",
                count,
            )
        return ngettext(
            "Earn %(count)s more growth point today to keep it.",
            "Earn %(count)s more growth points today to keep it.",
            count,
        )
    if key == "keep_today":
        if orders:
            return ngettext(
                "Place %(count)s more order today to keep %(tier)s.",
                "Place %(count)s more orders today to keep %(tier)s.",
                count,
            )
        return ngettext(
            "Earn %(count)s more growth point today to keep %(tier)s.",
            "Earn %(count)s more growth points today to keep %(tier)s.",
            count,
        )
    if key == "keep_beyond_it":
        if orders:
            return ngettext(
                "Place %(count)s more order by %(day)s to keep it beyond then.",
                "Place %(count)s more orders by %(day)s to keep it beyond then.",
                count,
            )
        return ngettext(
            "Earn %(count)s more growth point by %(day)s to keep it beyond then.",
            "Earn %(count)s more growth points by %(day)s to keep it beyond then.",
            count,
        )
    if orders:
        return ngettext(
            "%(tier)s is yours until %(until)s; place %(count)s more order by %(day)s to keep "
            "it beyond then.",
            "%(tier)s is yours until %(until)s; place %(count)s more orders by %(day)s to keep "
            "it beyond then.",
            count,
        )
    return ngettext(
        "%(tier)s is yours until %(until)s; earn %(count)s more growth point by %(day)s to "
        "keep it beyond then.",
        "%(tier)s is yours until %(until)s; earn %(count)s more growth points by %(day)s to "
        "keep it beyond then.",
        count,
    )


def _reach_sentence(*, spend, metric, currency, next_tier, next_by, calendar_year) -> str:
    remaining = max(metric.threshold(next_tier.threshold) - spend, ZERO if metric.money else 0)
    values = {"tier": next_tier.name}
    if remaining == 0:
        return gettext("You qualify for %(tier)s: it is yours from the next daily review.") % values
    if calendar_year and spend == 0 and next_by is not None:
        key = "reach_calendar"
        values["day"] = date_text(next_by)
    elif next_by is not None:
        key = "reach_more_by" if spend > 0 else "reach_by"
        values["day"] = date_text(next_by)
    else:
        key = "reach_more_within" if spend > 0 else "reach_within"
        values["days"] = ROLLING_DAYS
    if not metric.money:
        return _counted(metric, key, int(remaining), values)
    values["amount"] = money_text(remaining, currency)
    if key == "reach_calendar":
        return (
            gettext("Spend %(amount)s by %(day)s to reach %(tier)s (spend counts from 1 January).")
            % values
        )
    if key == "reach_more_by":
        return gettext("Spend %(amount)s more by %(day)s to reach %(tier)s.") % values
    if key == "reach_by":
        return gettext("Spend %(amount)s by %(day)s to reach %(tier)s.") % values
    if key == "reach_more_within":
        return gettext("Spend %(amount)s more within %(days)s days to reach %(tier)s.") % values
    return gettext("Spend %(amount)s within %(days)s days to reach %(tier)s.") % values


def _explanation(
    *,
    state,
    spend: Decimal | int,
    metric,
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
        override = {"tier": state.override.name, "day": date_text(state.override_until)}
        if metric.name == TierMetric.ORDERS:
            text = gettext(
                "Our team has placed you in %(tier)s until %(day)s; after that your orders "
                "decide your tier."
            )
        elif metric.name == TierMetric.GROWTH:
            text = gettext(
                "Our team has placed you in %(tier)s until %(day)s; after that your growth "
                "value decides your tier."
            )
        else:
            text = gettext(
                "Our team has placed you in %(tier)s until %(day)s; after that your spend "
                "decides your tier."
            )
        parts.append(text % override)
    reach = (
        None
        if next_tier is None
        else _reach_sentence(
            spend=spend,
            metric=metric,
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
    if metric.money:
        keep_remaining = Decimal(keep_tier["remaining"])
    else:
        keep_remaining = keep_tier["remaining_value"]
    values = {
        "tier": earned.name,
        "until": date_text(timezone.localdate(keep_until)),
        "day": date_text(dt.date.fromisoformat(keep_tier["by"])),
    }
    if metric.money:
        values["amount"] = money_text(keep_remaining, currency)
    sentences = _keep_sentences(
        values,
        top=top,
        hold_passed=hold_passed,
        met=keep_remaining == 0,
        say=None if metric.money else lambda key: _counted(metric, key, keep_remaining, values),
    )
    parts.extend(sentences)
    return parts


def _keep_sentences(
    values: dict, *, top: bool, hold_passed: bool, met: bool, say=None
) -> list[str]:
    """`say(key)`: the sentence naming the amount, for ladders that count (else money)."""
    if hold_passed:
        if top:
            return [
                gettext("You are in %(tier)s, our highest tier.") % values,
                say("keep_today_it")
                if say
                else gettext("Spend %(amount)s more today to keep it.") % values,
            ]
        if say:
            return [say("keep_today")]
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
            say("keep_beyond_it")
            if say
            else gettext("Spend %(amount)s more by %(day)s to keep it beyond then.") % values,
        ]
    if say:
        return [say("keep_beyond")]
    return [
        gettext(
            "%(tier)s is yours until %(until)s; spend %(amount)s more by %(day)s to keep it "
            "beyond then."
        )
        % values
    ]
