"""The dashboard's charts: each one's data for Chart.js (through `json_script`) and its table.

A chart is `{"id", "title", "type", "labels", "series": [{"label", "data"}], "stacked"}`; the
table beneath it shows the same numbers (`rows`: the label and one cell per series). Numbers go
to the browser as plain JSON numbers (money as strings with two decimals, which Chart.js parses),
never as locale-formatted text.
"""

from __future__ import annotations

from decimal import Decimal

from django.utils.formats import date_format
from django.utils.translation import gettext as _

from analytics.selectors.trends import Week
from loyalty.selectors.reports import money


def _chart(chart_id: str, title: str, kind: str, weeks: list[Week], series, *, stacked=False):
    labels = [date_format(w.start, "SHORT_DATE_FORMAT") for w in weeks]
    data = {
        "id": chart_id,
        "title": title,
        "type": kind,
        "stacked": stacked,
        "labels": labels,
        "series": [
            {"label": label, "data": [_number(v) for v in values]} for label, values in series
        ],
    }
    rows = [
        {"label": label, "cells": [values[i] for _, values in series]}
        for i, label in enumerate(labels)
    ]
    return {"data": data, "rows": rows, "headers": [label for label, _ in series]}


def _number(value):
    if value is None:
        return None
    if isinstance(value, Decimal):
        return float(value)  # display only: the table beneath shows the exact figure
    return value


def dashboard_charts(weeks: list[Week], *, tiers, point_value: Decimal) -> list[dict]:
    """The six charts of the page, in order."""
    tier_series = [(tier.name, [w.tiers.get(tier.pk, 0) for w in weeks]) for tier in tiers] or [
        (_("Members"), [sum(w.tiers.values()) for w in weeks])
    ]
    return [
        _chart(
            "points-chart",
            _("Points issued, redeemed and expired per week"),
            "bar",
            weeks,
            [
                (_("Points issued"), [w.issued for w in weeks]),
                (_("Points redeemed"), [w.redeemed for w in weeks]),
                (_("Points expired"), [w.expired for w in weeks]),
            ],
        ),
        _chart(
            "liability-chart",
            _("Liability at the end of each week"),
            "line",
            weeks,
            [(_("Liability"), [money(w.balance, point_value) for w in weeks])],
        ),
        _chart(
            "tiers-chart",
            _("Members by tier at the end of each week"),
            "line",
            weeks,
            tier_series,
            stacked=True,
        ),
        _chart(
            "active-chart",
            _("Active members (ordered in the last 30 days)"),
            "line",
            weeks,
            [(_("Active members"), [w.active for w in weeks])],
        ),
        _chart(
            "repeat-chart",
            _("Repeat-purchase rate per week (%)"),
            "line",
            weeks,
            [(_("Repeat-purchase rate"), [w.repeat_rate for w in weeks])],
        ),
        _chart(
            "revenue-chart",
            _("Revenue of members and guests per week"),
            "bar",
            weeks,
            [
                (_("Members"), [w.revenue for w in weeks]),
                (_("Guests"), [w.guest_revenue for w in weeks]),
            ],
        ),
    ]
