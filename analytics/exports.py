"""The finance export of the liability: a CSV of the aged liability, breakage and the expected
liability (`/admin/dashboard/liability.csv`).

Cells that a spreadsheet would read as a formula (starting with =, +, -, @, a tab or a carriage
return) are prefixed with an apostrophe, so a label can never run as one; numbers are written
plainly (a negative number is still a number: only text cells are escaped).
"""

from __future__ import annotations

import csv
from decimal import Decimal

from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _

from analytics.dashboard import PERMISSION, liability_context
from analytics.selectors.period import period_from_query
from config.admin_tools import denied
from loyalty.selectors.program import program_settings

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def escape_cell(value) -> str | int | Decimal:
    if isinstance(value, int | Decimal):
        return value
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def liability_rows(*, point_value, last) -> list[list]:
    context = liability_context(point_value=point_value, last=last)
    rows: list[list] = [[_("Figure"), _("Points"), _("Value")]]
    if context["snapshot"] is None:
        return rows
    for bucket in context["buckets"]:
        rows.append([bucket["label"], bucket["points"], bucket["money"]])
    snapshot = context["snapshot"]
    rows.append([_("Held in lots"), snapshot.outstanding, context["outstanding"]])
    rows.append([_("Owed by members in debt"), snapshot.debt, context["debt"]])
    breakage = context["breakage"]
    rows.append([_("Breakage rate (%)"), "", "" if breakage["rate"] is None else breakage["rate"]])
    rows.append([_("Expected liability"), "", context["expected"] or ""])
    rows.append([_("Snapshot taken at"), "", snapshot.taken_at.isoformat()])
    return rows


def liability_csv_view(request: HttpRequest) -> HttpResponse:
    if not request.user.has_perm(PERMISSION):
        raise denied(PERMISSION)
    settings = program_settings()
    period, _compared = period_from_query(request.GET)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="liability-{period.last}.csv"'
    writer = csv.writer(response)
    for row in liability_rows(point_value=settings.point_value, last=period.last):
        writer.writerow([escape_cell(cell) for cell in row])
    return response
