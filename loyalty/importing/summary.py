"""The import preview's summary: errors grouped by kind and column, the rows rejected only because
another row of their order is bad ("order_rejected") folded under that cause.

Input: the error rows `(row, column, value, code, message)` as the pipeline reports them (the
full error report when there is one, else the rows kept in memory). One pass, counts only: a
file with a million bad rows costs a million small tuples, never a million objects kept. The
first `shown` causes are listed with how many rows of the same order fell with each; an
`order_rejected` row whose order names no listed cause is counted apart.
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from django.utils.translation import gettext_lazy as _

DEPENDENT = "order_rejected"
# "row 7: order 536365 is rejected ..." / "... order 536365 is already recorded ..."
_ORDER_IN_MESSAGE = re.compile(r"\border (\S+) is\b")

KIND_LABELS = {
    "order_conflict": _("Order already recorded with different content"),
    "refund_conflict": _("Refund already recorded with different content"),
    "duplicate_order": _("Order id repeated with different content"),
    "refund_exceeds_order": _("Refund larger than its order"),
    "member_erased": _("Customer's data has been erased"),
    "email_taken": _("Email used by another member"),
    "future_date": _("Date in the future"),
    "invalid_date": _("Not a date"),
    "invalid_email": _("Not an email address"),
    "negative_amount": _("Negative amount"),
    "not_a_number": _("Not a number"),
    "not_an_integer": _("Not a whole number"),
    "too_long": _("Too long"),
    "too_many_decimals": _("Too many decimal places"),
    "unknown_currency": _("Unknown currency"),
    "required": _("Missing value"),
    DEPENDENT: _("Rejected with its order (another row of the order has an error)"),
}


def kind_label(code: str) -> str:
    return str(KIND_LABELS.get(code, code.replace("_", " ").capitalize()))


@dataclass
class ErrorGroup:
    code: str
    column: str
    label: str
    rows: int
    first_rows: list[int] = field(default_factory=list)


@dataclass
class Cause:
    row: int
    column: str
    value: str
    code: str
    message: str
    order_id: str | None
    dependents: int = 0


@dataclass
class ErrorSummary:
    groups: list[ErrorGroup]  # the causes' kinds, most rows first; dependents last
    causes: list[Cause]  # the first `shown` causes, in row order
    causes_total: int
    dependent_rows: int
    dependent_unattached: int  # order_rejected rows whose cause is not among `causes`

    @property
    def causes_more(self) -> int:
        return max(self.causes_total - len(self.causes), 0)


def _order_of(message: str) -> str | None:
    match = _ORDER_IN_MESSAGE.search(message or "")
    return match.group(1) if match else None


def error_summary(errors: Iterable[tuple], *, shown: int = 100) -> ErrorSummary:
    counts: Counter[tuple[str, str]] = Counter()
    first_rows: dict[tuple[str, str], list[int]] = {}
    causes: list[Cause] = []
    by_order: dict[str, Cause] = {}
    waiting: Counter[str] = Counter()  # dependents seen before their cause (or without one)
    causes_total = dependent_rows = 0
    for row, column, value, code, message in errors:
        row = int(row)
        key = (code, column)
        counts[key] += 1
        rows = first_rows.setdefault(key, [])
        if len(rows) < 5:
            rows.append(row)
        order_id = _order_of(message)
        if code == DEPENDENT:
            dependent_rows += 1
            if order_id in by_order:
                by_order[order_id].dependents += 1
            else:
                waiting[order_id] += 1
            continue
        causes_total += 1
        if len(causes) < shown:
            cause = Cause(row, column, str(value), code, message, order_id)
            causes.append(cause)
            if order_id is not None and order_id not in by_order:
                by_order[order_id] = cause
                cause.dependents += waiting.pop(order_id, 0)
    groups = [
        ErrorGroup(code, column, kind_label(code), n, first_rows[(code, column)])
        for (code, column), n in counts.items()
    ]
    groups.sort(key=lambda g: (g.code == DEPENDENT, -g.rows, g.code, g.column))
    return ErrorSummary(
        groups=groups,
        causes=causes,
        causes_total=causes_total,
        dependent_rows=dependent_rows,
        dependent_unattached=sum(waiting.values()),
    )


def report_rows(path: str | Path) -> Iterator[tuple]:
    """The rows of an error report CSV (`ERROR_REPORT_COLUMNS`), header skipped."""
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        next(reader, None)
        for record in reader:
            if len(record) >= 5:
                yield tuple(record[:5])
