"""The guest rows of an import (no customer) as guest orders, through the guest service.

A line file's rows without a customer are staged apart (`imp_guest_rows`, by `formats`), a
Shopify export's orders without an email as whole orders (`imp_guest_orders`). Then:

- `guests_assemble` makes the line file's guest rows into orders, as `assemble` does a
  customer's: the lines of an order id make one order (total = Σ quantity × unit price, rounded
  once; placed when its first line was; items in file order). A guest is known by the hash of
  the line's email when the file has one (`guest_key_for_email`), else not at all (an empty
  key: a customer of their own). Not stored, and counted as skipped guest rows: a guest's
  returns (an unknown customer's purchase cannot be found again), and the guest rows of an order
  id a customer's rows have. An order with a bad row, a negative total or lines in two
  currencies is left out whole (the errors are reported like any row's).
- `guests_write` records them in batches through `guest_orders_record_many` (the rules of
  `POST /api/v1/orders` without a member: the same fingerprints, so an order recorded once is
  *already present* the next time, and another under the same id is an `order_conflict`), each
  batch in its own transaction with the run's counter: a killed import keeps whole batches and
  the next run writes the rest. A dry run only counts.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import F

from loyalty.importing import values
from loyalty.importing.formats import ParseContext
from loyalty.importing.staging import dec, fetch_iter, from_utc_text, rows
from loyalty.models import GuestOrder, ImportRun
from loyalty.services.guests import NewGuestOrder, guest_orders_record_many

BATCH = 1000

GUEST_LINES = (
    "SELECT row_no, order_id, gkey, placed_at, currency, sku, description, quantity, "
    "price_units, is_return FROM imp_guest_rows ORDER BY order_id, row_no"
)
# Order ids with a customer's row, or with a reported error.
TAKEN_IDS = (
    "SELECT DISTINCT order_id FROM imp_rows WHERE order_id IN (SELECT order_id FROM imp_guest_rows)"
)
ERROR_IDS = (
    "SELECT DISTINCT order_id FROM imp_errors WHERE order_id IN "
    "(SELECT order_id FROM imp_guest_rows)"
)


@dataclass
class _GuestOrder:
    order_id: str
    row: int
    placed_at: str
    currency: str
    gkey: str = ""
    units: int = 0
    lines: list[dict] = field(default_factory=list)
    bad: bool = False


def guests_assemble(ctx: ParseContext, *, quantity_column: str) -> None:
    """The staged guest lines into staged guest orders (`imp_guest_orders`)."""
    taken = {order_id for (order_id,) in rows(TAKEN_IDS)}
    failed = {order_id for (order_id,) in rows(ERROR_IDS)}
    current: _GuestOrder | None = None
    for line in fetch_iter(GUEST_LINES):
        row, order_id, gkey, placed, currency, sku, desc, qty, price, is_return = line
        if is_return or order_id in taken:
            ctx.counters.guest_rows_skipped += 1
            continue
        if current is None or current.order_id != order_id:
            _stage(ctx, current, failed, quantity_column)
            current = _GuestOrder(order_id, row, placed, currency)
        if currency != current.currency and not current.bad:
            current.bad = True
            ctx.stage.error(
                row,
                "currency",
                currency,
                "mixed_currency",
                f"row {row}: order {order_id} has lines in {current.currency} and {currency}",
                order_id,
            )
        current.placed_at = min(current.placed_at, placed)
        current.gkey = current.gkey or gkey
        current.units += qty * price
        current.lines.append(
            {"sku": sku, "name": desc, "quantity": qty, "unit_price": values.units_text(price)}
        )
    _stage(ctx, current, failed, quantity_column)
    ctx.stage.flush()


def _stage(ctx: ParseContext, order: _GuestOrder | None, failed: set, quantity_column) -> None:
    if order is None or order.bad or order.order_id in failed:
        return
    total = values.line_total_cents(order.units, order.currency)
    if total < 0:
        ctx.stage.error(
            order.row,
            quantity_column,
            values.cents_text(total),
            "negative_amount",
            f"row {order.row}: the lines of order {order.order_id} add up to "
            f"{values.cents_text(total)}; an order total cannot be negative",
            order.order_id,
        )
        return
    ctx.stage.add(
        "imp_guest_orders",
        (
            order.row,
            order.order_id,
            order.gkey,
            order.placed_at,
            order.currency,
            total,
            None,
            json.dumps(order.lines, separators=(",", ":")),
        ),
    )


@dataclass
class GuestsWritten:
    created: int = 0
    present: int = 0
    errors: list[tuple] = field(default_factory=list)  # as `ChunkResult.errors`


def guests_write(*, run: ImportRun, dry_run: bool, order_column: str) -> GuestsWritten:
    """Record the staged guest orders, a batch per transaction (a dry run: count them)."""
    written = GuestsWritten()
    after = ""
    while True:
        batch = rows(
            "SELECT row_no, order_id, gkey, placed_at, currency, total_cents, eligible_cents, "
            "items FROM imp_guest_orders WHERE order_id > %s ORDER BY order_id LIMIT %s",
            [after, BATCH],
        )
        if not batch:
            return written
        orders = [
            NewGuestOrder(
                order_id=order_id,
                guest_key=gkey,
                placed_at=from_utc_text(placed),
                currency=currency,
                total=dec(total),
                eligible_total=None if eligible is None else dec(eligible),
                items=json.loads(items),
                row=row,
            )
            for row, order_id, gkey, placed, currency, total, eligible, items in batch
        ]
        with transaction.atomic():
            result = guest_orders_record_many(
                orders=orders, source=GuestOrder.Source.IMPORT, write=not dry_run
            )
            if result.created and not dry_run:
                ImportRun.objects.filter(pk=run.pk).update(
                    guest_orders_created=F("guest_orders_created") + result.created
                )
        written.created += result.created
        written.present += result.present
        written.errors += [
            (
                new.row,
                order_column,
                new.order_id,
                "order_conflict",
                f"row {new.row}: order {new.order_id} was already recorded with other content",
                new.order_id,
            )
            for new in result.conflicts
        ]
        after = batch[-1][1]
