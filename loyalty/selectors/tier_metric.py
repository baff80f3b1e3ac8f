"""The qualifying metric of tiers: what a member's spend in the qualification window is, in one
place (`docs/tiers.md`, "Qualifying spend and the window").

- `SPEND`: an order's qualifying amount, `eligible_amount − refunded_amount` (program currency);
- `qualifying_spend(member_id=, window=)`: Σ `SPEND` over the member's orders placed in the
  window (`Window.orders()`), to the cent. The order path reads it on every order of a member
  when tiers are configured (`loyalty.services.tiers.tier_after_order`), so on PostgreSQL its
  SQL is compiled once from the same queryset and run as a prepared statement.

The set-based readers (the daily evaluation's SQL, the what-if, the summary) aggregate `SPEND`
over `Window.orders()` in their own queries.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from decimal import Decimal
from typing import TYPE_CHECKING

from django.db import connection
from django.db.models import DecimalField, ExpressionWrapper, F, QuerySet, Sum

from config.prepared import hot_cursor

if TYPE_CHECKING:
    from loyalty.selectors.tiers import Window

CENT = Decimal("0.01")
ZERO = Decimal("0.00")

SPEND = ExpressionWrapper(
    F("eligible_amount") - F("refunded_amount"),
    output_field=DecimalField(max_digits=14, decimal_places=2),
)


def _spend_query(window: Window, member_id) -> QuerySet:
    """One member's spend in the window as a one-column queryset: THE definition the order path
    reads (`qualifying_spend`); Σ `SPEND` over `Window.orders()`."""
    return (
        window.orders()
        .filter(member_id=member_id)
        .order_by()
        .values("member_id")
        .annotate(total=Sum(SPEND))
        .values("total")
    )


# (alias, vendor, start_inclusive) -> (sql, params, where the member, start and end go)
_spend_sql: dict[tuple, tuple] = {}
_SENTINEL_MEMBER = -(10**12) - 7
_SENTINEL_START = dt.datetime(1001, 1, 1, tzinfo=dt.UTC)
_SENTINEL_END = dt.datetime(1002, 1, 1, tzinfo=dt.UTC)


def qualifying_spend(*, member_id: int, window: Window) -> Decimal:
    """Σ (eligible − refunded) of the member's orders in the window (`_spend_query`), its SQL
    compiled once per connection and window kind: the order path reads it on every order, and
    building the aggregate through the ORM cost more than the database's answer."""
    if connection.vendor != "postgresql":
        total = window.orders().filter(member_id=member_id).aggregate(total=Sum(SPEND))["total"]
        return (total or ZERO).quantize(CENT)
    key = (connection.alias, connection.vendor, window.start_inclusive)
    compiled = _spend_sql.get(key)
    if compiled is None:
        sentinel = replace(
            window,
            start=_SENTINEL_START,
            end=_SENTINEL_END,
        )
        sql, params = _spend_query(sentinel, _SENTINEL_MEMBER).query.sql_with_params()
        params = list(params)
        prepared = {
            _SENTINEL_MEMBER: "member",
            connection.ops.adapt_datetimefield_value(_SENTINEL_START): "start",
            connection.ops.adapt_datetimefield_value(_SENTINEL_END): "end",
        }
        slots = [(i, prepared[p]) for i, p in enumerate(params) if _hashable(p) in prepared]
        assert sorted(name for _, name in slots) == ["end", "member", "start"], slots
        compiled = _spend_sql[key] = (sql, params, slots)
    sql, params, slots = compiled
    values = {
        "member": int(member_id),
        "start": connection.ops.adapt_datetimefield_value(window.start),
        "end": connection.ops.adapt_datetimefield_value(window.end),
    }
    params = list(params)
    for position, name in slots:
        params[position] = values[name]
    with hot_cursor(connection) as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    total = None if row is None else row[0]
    return (total or ZERO).quantize(CENT)


def _hashable(value):
    try:
        hash(value)
    except TypeError:
        return None
    return value
