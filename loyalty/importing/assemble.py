"""Line files into orders and refunds, one customer's history at a time.

Staged lines are read back ordered by customer and time, so only one customer's history is ever in
memory. For each customer:
- the lines of an order id make one order: total = Σ quantity × unit price, placed when its first
  line was (an invoice printed across a minute boundary is still one order), items in file order.
  Unit prices are staged in 1/10,000 (`values.UNIT_SCALE`: up to 4 decimals); the sum is exact
  and rounded once, to the currency's minor unit (`values.line_total_cents`), and so is each
  refund's sum of return lines;
- a return line (an order id with the refund prefix, e.g. `C536379`, or a negative quantity when
  the profile says so) refunds the customer's latest earlier order holding the same product code,
  in the file or, failing that, already in the ledger. One refund per (return, refunded order).
  A return whose goods were bought before the imported history is counted and skipped;
- refunds that would add up to more than the refunded order are errors on the return's rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from loyalty.importing import values
from loyalty.importing.formats import (
    ParseContext,
    refund_id_for,
    stage_ledger_refund,
    stage_order,
)
from loyalty.importing.staging import fetch_iter, from_utc_text, utc_text
from loyalty.models import Order


@dataclass
class _Order:
    order_id: str
    row: int
    placed_at: str
    currency: str
    email: str = ""
    first_name: str = ""
    last_name: str = ""
    total: int = 0  # cents, once `_customer` has rounded `units`
    units: int = 0  # Σ quantity × unit price, in `values.UNIT_SCALE` units
    lines: list[tuple[int, dict]] = field(default_factory=list)
    skus: set[str] = field(default_factory=set)
    refunded: int = 0
    bad: bool = False


@dataclass
class _Refund:
    refund_id: str
    order_id: str
    row: int
    placed_at: str
    amount: int = 0  # cents, once `_match_returns` has rounded `units`
    units: int = 0
    rows: list[tuple[int, int]] = field(default_factory=list)  # (row, quantity)
    in_file: bool = True


LINE_QUERY = (
    "SELECT ckey, row_no, order_id, email, first_name, last_name, placed_at, currency, sku, "
    "description, quantity, price_units, is_return FROM imp_rows WHERE bad = 0 "
    "ORDER BY ckey, placed_at, order_id, row_no"
)


def assemble_lines(ctx: ParseContext, *, quantity_column: str, order_column: str) -> None:
    customer, lines = None, []
    for line in fetch_iter(LINE_QUERY):
        if line[0] != customer:
            if lines:
                _customer(ctx, customer, lines, quantity_column, order_column)
            customer, lines = line[0], []
        lines.append(line)
    if lines:
        _customer(ctx, customer, lines, quantity_column, order_column)
    ctx.stage.flush()


def _customer(ctx: ParseContext, ckey: str, lines: list, qty_col: str, order_col: str) -> None:
    orders: dict[str, _Order] = {}
    returns = []
    for _, row, order_id, email, first, last, placed, currency, sku, desc, qty, price, ret in lines:
        if ret:
            returns.append((row, order_id, placed, sku, abs(qty * price), qty))
            continue
        order = orders.get(order_id)
        if order is None:
            order = orders[order_id] = _Order(order_id, row, placed, currency)
        if currency != order.currency:
            order.bad = True
            ctx.stage.error(
                row,
                "currency",
                currency,
                "mixed_currency",
                f"row {row}: order {order_id} has lines in {order.currency} and {currency}",
                order_id,
            )
        order.row = min(order.row, row)
        order.email = email or order.email
        order.first_name = first or order.first_name
        order.last_name = last or order.last_name
        order.units += qty * price
        order.skus.add(sku)
        order.lines.append(
            (
                row,
                {
                    "sku": sku,
                    "name": desc,
                    "quantity": qty,
                    "unit_price": values.units_text(price),
                },
            )
        )
    for order in orders.values():
        order.total = values.line_total_cents(order.units, order.currency)
    for order in orders.values():
        if order.total < 0 and not order.bad:
            order.bad = True
            ctx.stage.error(
                order.row,
                qty_col,
                values.cents_text(order.total),
                "negative_amount",
                f"row {order.row}: the lines of order {order.order_id} add up to "
                f"{values.cents_text(order.total)}; an order total cannot be negative",
                order.order_id,
            )
    refunds = _match_returns(ctx, ckey, orders, returns)
    for refund in refunds.values():
        if not refund.in_file:
            continue
        target = orders[refund.order_id]
        if target.bad:
            continue
        target.refunded += refund.amount
        if target.refunded > target.total:
            for row, qty in refund.rows:
                ctx.stage.error(
                    row,
                    qty_col,
                    str(qty),
                    "refund_exceeds_order",
                    f"row {row}: the returns of order {target.order_id} add up to "
                    f"{values.cents_text(target.refunded)}, more than the order's total "
                    f"{values.cents_text(target.total)}",
                    refund.refund_id,
                )
            target.refunded -= refund.amount
            refund.amount = 0
    by_order: dict[str, list[_Refund]] = {}
    for refund in refunds.values():
        if refund.amount <= 0:
            continue
        if refund.in_file:
            by_order.setdefault(refund.order_id, []).append(refund)
        else:
            stage_ledger_refund(
                ctx,
                row=refund.row,
                refund_id=refund.refund_id,
                order_id=refund.order_id,
                ckey=ckey,
                cents=refund.amount,
                refunded_at=from_utc_text(refund.placed_at),
                col=qty_col,
            )
    for order in orders.values():
        if order.bad:
            continue
        items = [item for _, item in sorted(order.lines, key=lambda pair: pair[0])]
        its_refunds = sorted(
            by_order.get(order.order_id, []), key=lambda r: (r.placed_at, r.refund_id)
        )
        stage_order(
            ctx,
            row=order.row,
            order_id=order.order_id,
            ckey=ckey,
            email=order.email,
            first=order.first_name,
            last=order.last_name,
            placed_at=from_utc_text(order.placed_at),
            currency=order.currency,
            total=order.total,
            eligible=None,
            items=items,
            col=order_col,
            refunds=[
                (r.row, r.refund_id, r.amount, from_utc_text(r.placed_at), False, qty_col)
                for r in its_refunds
            ],
        )


def _match_returns(ctx: ParseContext, ckey: str, orders: dict[str, _Order], returns: list):
    """Each return line refunds the latest earlier order of this customer with the same product."""
    refunds: dict[tuple[str, str], _Refund] = {}
    if not returns:
        return refunds
    history = sorted(orders.values(), key=lambda o: (o.placed_at, o.order_id), reverse=True)
    ledger = None
    for row, return_id, placed, sku, amount, qty in returns:
        target = next((o for o in history if o.placed_at < placed and sku in o.skus), None)
        in_file = target is not None
        target_id = target.order_id if target else None
        if target is None:
            if ledger is None:
                ledger = _ledger_history(ckey)
            target_id = next((oid for oid, at, skus in ledger if at < placed and sku in skus), None)
        if target_id is None:
            ctx.counters.returns_before_history += 1
            continue
        key = (return_id, target_id)
        refund = refunds.get(key)
        if refund is None:
            refund = refunds[key] = _Refund(
                refund_id_for(return_id, f">{target_id}"),
                target_id,
                row,
                placed,
                in_file=in_file,
            )
        refund.units += amount
        refund.rows.append((row, qty))
        refund.row = min(refund.row, row)
    for refund in refunds.values():
        currency = orders[refund.order_id].currency if refund.in_file else ""
        refund.amount = values.line_total_cents(refund.units, currency)
    return refunds


def _ledger_history(ckey: str) -> list[tuple[str, str, set[str]]]:
    """The customer's recorded orders, newest first: (order id, placed at, product codes)."""
    rows = (
        Order.objects.filter(member__external_id=ckey)
        .order_by("-placed_at", "-order_id")
        .values_list("order_id", "placed_at", "items")[:5000]
    )
    history = []
    for order_id, placed_at, items in rows:
        skus = {str(item.get("sku", "")) for item in items or [] if isinstance(item, dict)}
        history.append((order_id, utc_text(placed_at), skus))
    return history
