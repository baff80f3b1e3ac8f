"""Parsers: CSV records in, validated staged orders, refunds and lines out.

One parser per layout, all writing the same staging shapes (see `staging.TABLES`):
- `OrdersParser`: one row per order (the canonical format, or a profile mapping other names).
  `refunded_total` is cumulative: the order's refunds so far, imported as one refund dated when
  the order was placed (the file says how much, not when).
- `LinesParser`: one row per order line (profile `online-retail`, or a staff profile); lines are
  staged as they are and assembled into orders by `assemble.py`, which needs the whole customer
  history to match cancellations.
- `ShopifyParser`: Shopify's orders export: one row per line item, the order's own fields on the
  first row of each order only (rows of an order are consecutive, as Shopify writes them). The
  export has no customer id: a customer is keyed by their email's pseudonym
  (`members.erasure.external_id_for_email`), never by the email.

Every bad cell is reported with its row, column and value; a row with any error is never staged.
An error in one line of an order rejects the whole order later (`order_id` travels with the error),
so an order is never imported with lines missing.

`order_fingerprint` and `refund_fingerprint` give exactly what `loyalty.services.orders` stores for
the same order or refund, so that an order imported here and sent again by the storefront (or the
reverse) is recognised as the same one, and other content as a conflict.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from dataclasses import dataclass, field
from itertools import repeat
from operator import and_, attrgetter, itemgetter, methodcaller

from loyalty.importing import values
from loyalty.importing.earning import CACHE_ENTRIES, PLAIN_ENTRIES, Earning
from loyalty.importing.profiles import LINES, ORDERS, Profile
from loyalty.importing.reader import Record
from loyalty.importing.staging import (
    BulkWriter,
    _sqlite_datetime,
    column_types,
    db_datetime_converter,
    utc_text,
)
from loyalty.services.guests import guest_key_for_email
from members.countries import country_code_for
from members.erasure import external_id_for_email

_enc = json.encoder.encode_basestring_ascii  # what json.dumps uses with ensure_ascii=True
# A date in UTC to the second, as exports write them: (date, time of day).
_UTC_SECOND = re.compile(r"(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(?:Z|\+00:00)\Z")
MAX_ERROR_VALUE = 200

# Batches of the orders format (`OrdersParser._feed_batch`): the rows of a batch are read column
# by column, each column checked at once for the usual form of its cells (a regex over the
# column's cells joined with newlines, which no cell of the batch contains: counted first); a row
# with any cell in another form (or any problem) takes the per-row paths, in its place.
BATCH_ROWS = 5_000
_PLAIN_AMOUNT = r"(?:0|[1-9][0-9]{0,9})\.[0-9]{2}"  # what `values.cents_text` writes back
_PLAIN_DATE = (
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ](?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:Z|\+00:00)"
)


def _joined(element: str) -> re.Pattern:
    return re.compile(f"(?:{element}\n)*{element}")


_AMOUNT = re.compile(_PLAIN_AMOUNT)
_DATES = _joined(_PLAIN_DATE)
_DATE = re.compile(_PLAIN_DATE)
# A customer id as `values.customer_id` returns it and `_enc` writes it between quotes: printable
# ASCII without spaces, quotes, backslashes or points (`17850.0` is read as `17850`).
_NOT_PLAIN_ID = re.compile(r'[^!-~\n]|["\\.]')
_DAY = itemgetter(slice(0, 10))
_NO_AMOUNT = -1  # the cents of an empty amount cell (`OrdersParser._amounts`)
_PROBLEMS = attrgetter("problems")
_FIELDS = attrgetter("fields")
_ROW = attrgetter("row")
_FIRST, _SECOND = itemgetter(0), itemgetter(1)
# `Earning.points_plain`: (eligible in the program currency in cents, base, bonus, rate as text)
_EARNABLE, _BASE, _BONUS, _RATE = itemgetter(0), itemgetter(1), itemgetter(2), itemgetter(3)
_HEXDIGEST = methodcaller("hexdigest")
# `order_fingerprint`'s JSON for an order without items: (head up to the eligible total, the
# eligible total's JSON, the member, date, time, total), texts that need no escaping.
_FINGERPRINT = '%s%s,"items":[],"member":"%s","placed_at":"%sT%s+00:00","total":"%s"}'
_PLACED_TEXT = "%sT%s.000000+00:00"  # `utc_text` of a date to the second
_CLOCK = itemgetter(slice(11, 19))


def order_fingerprint(
    *,
    member: str,
    placed_at: dt.datetime,
    currency: str,
    total_cents: int,
    eligible_cents: int | None,
    items_sorted_json: str = "[]",
    placed_iso: str | None = None,
) -> str:
    """sha256 of the canonical JSON `order_record` hashes (channel empty, as imports send).

    `placed_iso`: `placed_at.isoformat()` when the caller has it already."""
    blob = (
        '{"channel":"","currency":'
        + _enc(currency)
        + ',"eligible_total":'
        + ("null" if eligible_cents is None else _enc(values.cents_text(eligible_cents)))
        + ',"items":'
        + items_sorted_json
        + ',"member":'
        + _enc(member)
        + ',"placed_at":'
        + _enc(placed_iso or placed_at.isoformat())
        + ',"total":'
        + _enc(values.cents_text(total_cents))
        + "}"
    )
    return hashlib.sha256(blob.encode()).hexdigest()


def items_json(items: list[dict]) -> tuple[str, str]:
    """(as stored, as hashed: keys sorted) JSON of an order's items."""
    if not items:
        return "[]", "[]"
    stored = json.dumps(items, separators=(",", ":"), default=str)
    hashed = json.dumps(items, separators=(",", ":"), default=str, sort_keys=True)
    return stored, hashed


def refund_fingerprint(*, order_id: str, amount_cents: int, refunded_at: dt.datetime) -> str:
    blob = (
        '{"amount":'
        + _enc(values.cents_text(amount_cents))
        + ',"order_id":'
        + _enc(order_id)
        + ',"refunded_at":'
        + _enc(refunded_at.isoformat())
        + "}"
    )
    return hashlib.sha256(blob.encode()).hexdigest()


def refund_id_for(order_id: str, suffix: str) -> str:
    """A deterministic refund id (re-imports find it again), at most 64 characters."""
    candidate = f"{order_id}{suffix}"
    if len(candidate) <= 64:
        return candidate
    return f"imp-{hashlib.sha256(order_id.encode()).hexdigest()[:40]}{suffix}"[:64]


@dataclass
class Counters:
    rows_read: int = 0
    guest_rows: int = 0  # rows without a customer: guest orders (`guests`)
    # Of which not stored: guests' returns, guest rows of an order a customer has.
    guest_rows_skipped: int = 0
    not_earning: int = 0  # Shopify orders voided or pending
    returns_before_history: int = 0
    duplicate_rows: int = 0
    float_amounts: int = 0  # amounts written as binary floats, read as cents (`values.float_noise`)


class StageBuffer:
    """Collects staged rows and errors and writes them in batches."""

    BATCH = 10_000
    COLUMNS = {
        "imp_orders": (
            "row_no",
            "order_id",
            "ckey",
            "email",
            "first_name",
            "last_name",
            "placed_at",
            "currency",
            "total_cents",
            "eligible_cents",
            "items",
            "fingerprint",
            "id_col",
            "placed_db",
            "available_db",
            "expires_db",
            "matured",
            "expired",
            "rate",
            "eligible_amount_cents",
            "refunded_cents",
            "refunded_amount_cents",
            "base",
            "bonus",
            "tier_code",
            "mult_text",
            "rev_earn",
            "rev_tier",
        ),
        "imp_refunds": (
            "row_no",
            "refund_id",
            "order_id",
            "ckey",
            "amount_cents",
            "refunded_at",
            "fingerprint",
            "cumulative",
            "col",
            "refunded_db",
            "points_reversed",
            "r_earn",
            "r_tier",
        ),
        "imp_rows": (
            "row_no",
            "order_id",
            "ckey",
            "email",
            "first_name",
            "last_name",
            "placed_at",
            "currency",
            "sku",
            "description",
            "quantity",
            "price_units",
            "is_return",
        ),
        "imp_errors": ("row_no", "seq", "col", "value", "code", "message", "order_id"),
        "imp_guest_rows": (
            "row_no",
            "order_id",
            "gkey",
            "placed_at",
            "currency",
            "sku",
            "description",
            "quantity",
            "price_units",
            "is_return",
        ),
        "imp_guest_orders": (
            "row_no",
            "order_id",
            "gkey",
            "placed_at",
            "currency",
            "total_cents",
            "eligible_cents",
            "items",
        ),
        "imp_countries": ("ckey", "placed_at", "country"),
    }
    # The orders of the orders format's batches (`OrdersParser._feed_batch`), into `imp_orders`:
    # no items and no refund, so those columns are left to their defaults (`staging.TABLES`).
    PLAIN_ORDERS = tuple(
        c
        for c in COLUMNS["imp_orders"]
        if c not in ("items", "refunded_cents", "refunded_amount_cents", "rev_earn", "rev_tier")
    )

    def __init__(self) -> None:
        columns = {**self.COLUMNS, "imp_orders_plain": self.PLAIN_ORDERS}
        tables = {name: name for name in self.COLUMNS} | {"imp_orders_plain": "imp_orders"}
        self.writers = {
            name: BulkWriter(tables[name], cols, types=column_types(tables[name], cols))
            for name, cols in columns.items()
        }
        self.buffers: dict[str, list[tuple]] = {name: [] for name in columns}
        self.error_seq = 0
        self.error_count = 0

    def add(self, table: str, row: tuple) -> None:
        buffer = self.buffers[table]
        buffer.append(row)
        if len(buffer) >= self.BATCH:
            self.flush(table)

    def add_many(self, table: str, rows: list[tuple]) -> None:
        buffer = self.buffers[table]
        buffer.extend(rows)
        if len(buffer) >= self.BATCH:
            self.flush(table)

    def error(
        self,
        row: int,
        column: str,
        value: str,
        code: str,
        message: str,
        order_id: str | None = None,
    ) -> None:
        self.error_seq += 1
        self.error_count += 1
        shown = value if len(value) <= MAX_ERROR_VALUE else value[:MAX_ERROR_VALUE] + "…"
        self.add("imp_errors", (row, self.error_seq, column, shown, code, message, order_id))

    def flush(self, table: str | None = None) -> None:
        for name in [table] if table else list(self.buffers):
            if self.buffers[name]:
                self.writers[name].write(self.buffers[name])
                self.buffers[name] = []


@dataclass
class ParseContext:
    stage: StageBuffer
    program_currency: str
    accepted_currencies: set[str]
    now: dt.datetime
    earning: Earning
    decimal_comma: bool = False
    counters: Counters = field(default_factory=Counters)
    db_datetime: object = field(default_factory=db_datetime_converter)

    def check_currency(self, code: str) -> str:
        if code not in self.accepted_currencies:
            raise values.CellError(
                "currency_mismatch",
                f"is not accepted: the program's currency is {self.program_currency} and no "
                f"exchange rate is configured for {code}",
            )
        return code


class _ColumnParser:
    """Shared column lookup and error reporting."""

    def __init__(self, ctx: ParseContext, header: list[str]) -> None:
        self.ctx = ctx
        self.header = header
        self.index = {h.lower(): i for i, h in enumerate(header) if h}

    def col(self, name: str | None) -> int | None:
        if not name:
            return None
        return self.index.get(name.lower())

    def report_problems(self, record: Record, order_id: str | None = None) -> bool:
        """Report the reader's row-level problems; True if there were any."""
        for index, code, message in record.problems:
            column = self.header[index] if index is not None and index < len(self.header) else ""
            value = record.fields[index] if index is not None else ""
            self.ctx.stage.error(
                record.row, column, value, code, f"row {record.row}: {message}", order_id
            )
        return bool(record.problems)

    def cell_error(self, record: Record, index: int, exc: values.CellError, order_id=None):
        column = self.header[index]
        value = record.fields[index]
        self.ctx.stage.error(
            record.row,
            column,
            value,
            exc.code,
            f"row {record.row}, column '{column}': {_show(value)} {exc.message}",
            order_id,
        )


def _show(value: str) -> str:
    value = value if len(value) <= 60 else value[:57] + "..."
    return f"'{value}'" if value else "(empty)"


class OrdersParser(_ColumnParser):
    """One row per order."""

    def __init__(self, ctx: ParseContext, header: list[str], profile: Profile) -> None:
        super().__init__(ctx, header)
        self.profile = profile
        self.dates = values.DateParser(list(profile.date_formats), now=ctx.now)
        c = profile.columns
        self.i_order = self.col(c.get("order_id"))
        self.i_customer = self.col(c.get("customer_id"))
        self.i_email = self.col(c.get("email"))
        self.i_placed = self.col(c.get("placed_at"))
        self.i_total = self.col(c.get("total"))
        self.i_currency = self.col(c.get("currency")) if not profile.currency else None
        self.i_eligible = self.col(c.get("eligible_total"))
        self.i_refunded = self.col(c.get("refunded_total"))
        self.i_first = self.col(c.get("first_name"))
        self.i_last = self.col(c.get("last_name"))

        # Cells already read, by column kind: the same text always gives the same value (or
        # error), and customers, amounts and currencies repeat. Only good values are kept, with
        # the JSON text the order's fingerprint needs (`_enc`) where it has one.
        self._cache_money: dict[str, tuple[int, str]] = {}
        self._cache_customer: dict[str, tuple[str, str]] = {}
        self._cache_email: dict[str, str] = {}
        self._cache_currency: dict[str, str] = {}
        self._refunded_col = self.header[self.i_refunded] if self.i_refunded is not None else ""
        self._order_col = self.header[self.i_order]
        self._fast = None not in (self.i_order, self.i_customer, self.i_placed, self.i_total)
        # Dates written in UTC to the second (`2024-05-01T14:30:00Z`, the usual export) are
        # staged from their text: what `stage_order` derives from the datetime, without building
        # it again (see `_utc_day`). Only where the file's dates are read as ISO 8601 first.
        formats = self.dates.formats
        self._iso_dates = not formats or formats[0].lower() == "iso"
        self._days: dict[str, tuple | None] = {}
        self._pg = ctx.db_datetime is not _sqlite_datetime
        self._now_text = ctx.now.astimezone(dt.UTC).isoformat(" ", timespec="microseconds")[:26]
        self._fingerprint_head: dict[str, str] = {}
        # Batches (`_feed_batch`): records wait in `_pending` until there are `BATCH_ROWS`.
        self._batching = self._fast and self._iso_dates
        self._pending: list[Record] = []
        self._batch_days: dict[str, tuple | bool] = {}
        self._cents: dict[str, int] = {"": _NO_AMOUNT}
        self._plain_points: dict[str, dict[int, tuple]] = {}
        # The accepted codes as `values.currency` returns them: a cell with one of them is good.
        self._plain_currencies = {
            c for c in ctx.accepted_currencies if c in values.ISO_4217 and c == c.strip().upper()
        }
        self._db_suffix = "+00:00" if self._pg else ""  # `_pg_datetime`'s text of a UTC date

    def feed(self, record: Record) -> None:
        """Records wait for a batch (`_feed_batch`) where the file's columns allow it; else (and
        for a batch's rows in other forms) `_feed_row`."""
        if self._batching:
            pending = self._pending
            pending.append(record)
            if len(pending) >= BATCH_ROWS:
                self._pending = []
                self._feed_batch(pending)
            return
        self._feed_row(record)

    def finish(self) -> None:
        if self._pending:
            pending, self._pending = self._pending, []
            self._feed_batch(pending)

    def _feed_row(self, record: Record) -> None:
        """The common case (a good row) takes `_feed_fast`; a row with any problem is read again
        by `_feed_checked`, which reports every problem it has."""
        if record.problems or not self._fast or not self._feed_fast(record):
            self._feed_checked(record)

    def _feed_batch(self, records: list[Record]) -> None:
        """Stage a batch's rows in their usual forms column by column; every other row (any
        problem, any cell in another form, a refund, a date on or after today's) is fed to
        `_feed_row` in its place, so rows and errors are staged in the file's order as before.

        What a row here stages is what `_feed_fast` stages for it: the same cell parsers' results
        for the same cells (a cell in its usual form is its own value), the same memoised rules
        (`points_plain`, `_day_shift`), dates staged from their text."""
        n = len(records)
        problems = list(map(_PROBLEMS, records))
        fields = list(map(_FIELDS, records))
        bad: set[int] = set()
        if any(problems):
            blank = [""] * len(self.header)
            for i, found in enumerate(problems):
                if found:
                    bad.add(i)
                    fields[i] = blank
        columns = list(zip(*fields, strict=True))

        ids = list(map(str.strip, columns[self.i_order]))
        if not min(map(len, ids)) or max(map(len, ids)) > 64:  # what `_order_id` refuses
            bad.update(i for i, v in enumerate(ids) if not v or len(v) > 64)

        col = columns[self.i_customer]
        joined = "\n".join(col)
        if (
            all(col)
            and max(map(len, col)) <= 64
            and joined.count("\n") == n - 1
            and _NOT_PLAIN_ID.search(joined) is None
        ):
            customers = customers_json = col  # as `_required_customer` and `_enc` give them
        else:
            customers, customers_json = [], []
            cache, cached = self._cache_customer, self._cached
            for i, text in enumerate(col):
                found = cache.get(text)
                if found is None:
                    try:
                        found = cached(cache, self._customer, text)
                    except values.CellError:
                        bad.add(i)
                        found = ("", '""')
                customers.append(found[0])
                customers_json.append(found[1][1:-1])

        if self.i_email is None:
            emails = [""] * n
        else:
            col = columns[self.i_email]
            cache = self._cache_email
            emails = list(map(cache.get, col))
            if None in emails:
                for i, email in enumerate(emails):
                    if email is None:
                        try:
                            emails[i] = self._cached(cache, values.email, col[i])
                        except values.CellError:
                            bad.add(i)

        if self.i_currency is None:
            currency = self.profile.currency or self.ctx.program_currency
            currencies = None
        else:
            col = columns[self.i_currency]
            kinds = set(col)
            if kinds <= self._plain_currencies:
                currencies = col
            else:
                currencies = []
                cache = self._cache_currency
                for i, text in enumerate(col):
                    code = cache.get(text)
                    if code is None:
                        try:
                            code = self._cached(cache, self._currency, text)
                        except values.CellError:
                            bad.add(i)
                    currencies.append(code)
                kinds = set(currencies)
            currency = next(iter(kinds)) if len(kinds) == 1 else None

        totals = self._amounts(columns[self.i_total], bad)
        if min(totals) < 0:  # an empty total
            bad.update(i for i, cents in enumerate(totals) if cents < 0)
        if self.i_eligible is None:
            eligibles = [_NO_AMOUNT] * n
        else:
            eligibles = self._amounts(columns[self.i_eligible], bad)
            bad.update(
                i
                for i, (cents, total) in enumerate(zip(eligibles, totals, strict=True))
                if cents > total
            )
        refunded: dict[int, int] = {}  # row in the batch -> cents refunded (`_stage_refunded`)
        if self.i_refunded is not None:
            col = columns[self.i_refunded]
            if any(col):
                cents = self._amounts(col, bad)
                for i, text in enumerate(col):
                    if text and cents[i] > 0:
                        eligible = eligibles[i]
                        if cents[i] > (totals[i] if eligible == _NO_AMOUNT else eligible):
                            bad.add(i)  # what `_feed_checked` reports
                        else:
                            refunded[i] = cents[i]
        if self.i_first is None:
            firsts = [""] * n
        else:
            firsts = list(map(str.strip, columns[self.i_first]))
            if max(map(len, firsts)) > 150:
                bad.update(i for i, v in enumerate(firsts) if len(v) > 150)
        if self.i_last is None:
            lasts = [""] * n
        else:
            lasts = list(map(str.strip, columns[self.i_last]))
            if max(map(len, lasts)) > 150:
                bad.update(i for i, v in enumerate(lasts) if len(v) > 150)

        col = columns[self.i_placed]
        joined = "\n".join(col)
        if joined.count("\n") != n - 1 or _DATES.fullmatch(joined) is None:
            bad.update(i for i, text in enumerate(col) if _DATE.fullmatch(text) is None)
        dates = list(map(_DAY, col))
        clocks = list(map(_CLOCK, col))
        known = self._batch_days
        days = list(map(known.get, dates))
        if None in days:
            for i, day in enumerate(days):
                if day is None and i not in bad:
                    day = known.get(dates[i])
                    days[i] = self._batch_day(dates[i]) if day is None else day
        if False in days:
            bad.update(i for i, day in enumerate(days) if day is False)

        rows = list(map(_ROW, records))
        batch = (rows, ids, customers, customers_json, emails, firsts, lasts, dates, clocks, days)
        batch += (totals, columns[self.i_total], eligibles)
        batch += (None if self.i_eligible is None else columns[self.i_eligible], currencies)
        bad_or_refunded = bad | refunded.keys() if refunded else bad
        if bad_or_refunded:
            good = [i for i in range(n) if i not in bad_or_refunded]
            if not good:
                self._merge(records, bad, refunded, batch, iter(()), currency)
                return
            pick = itemgetter(*good) if len(good) > 1 else lambda seq: (seq[good[0]],)
            rows, ids, customers, customers_json, emails, totals, eligibles = map(
                pick, (rows, ids, customers, customers_json, emails, totals, eligibles)
            )
            firsts, lasts, dates, clocks, days = map(pick, (firsts, lasts, dates, clocks, days))
            texts_total = pick(columns[self.i_total])
            texts_eligible = None if self.i_eligible is None else pick(columns[self.i_eligible])
            if currencies is not None:
                currencies = pick(currencies)
        else:
            texts_total = columns[self.i_total]
            texts_eligible = None if self.i_eligible is None else columns[self.i_eligible]
        staged = self._batch_rows(
            rows,
            ids,
            customers,
            customers_json,
            emails,
            firsts,
            lasts,
            dates,
            clocks,
            days,
            totals,
            texts_total,
            eligibles,
            texts_eligible,
            currency,
            currencies,
        )
        if not bad_or_refunded:
            self.ctx.stage.add_many("imp_orders_plain", staged)
            return
        self._merge(records, bad, refunded, batch, iter(staged), currency)

    def _merge(self, records, bad, refunded, batch, staged, currency) -> None:
        """Stage a batch's rows in the file's order: the usual ones from `staged`, refunded ones
        by `_stage_refunded`, the others by `_feed_row`."""
        add = self.ctx.stage.add
        for i, record in enumerate(records):
            if i in bad:
                self._feed_row(record)
            elif i in refunded:
                values_i = [None if column is None else column[i] for column in batch]
                if values_i[-1] is None:
                    values_i[-1] = currency
                self._stage_refunded(*values_i, refunded[i])
            else:
                add("imp_orders_plain", next(staged))

    def _stage_refunded(
        self,
        row,
        order_id,
        customer,
        customer_json,
        email,
        first,
        last,
        date,
        clock,
        day,
        total,
        total_text,
        eligible,
        eligible_text,
        currency,
        refund,
    ) -> None:
        """What `stage_order` stages for an order of a batch with a refund (as `_feed_fast` calls
        it: the refunded total as one refund when the order was placed), from the batch's values:
        `Earning.order` for its numbers, its dates from their text."""
        ctx = self.ctx
        earning = ctx.earning
        placed_at = dt.datetime.fromisoformat(f"{date}T{clock}+00:00")
        numbers = earning.order(
            placed_at=placed_at,
            currency=currency,
            eligible_cents=total if eligible == _NO_AMOUNT else eligible,
            refunds=[refund],
        )
        fingerprint = hashlib.sha256(
            (
                _FINGERPRINT
                % (
                    self._head(currency),
                    "null" if eligible == _NO_AMOUNT else f'"{eligible_text}"',
                    customer_json,
                    date,
                    clock,
                    total_text,
                )
            ).encode()
        ).hexdigest()
        placed_text = _PLACED_TEXT % (date, clock)
        suffix = self._db_suffix
        placed_db = f"{date} {clock}{suffix}"
        available_day, expires_day = day
        ctx.stage.add(
            "imp_orders",
            (
                row,
                order_id,
                customer,
                email,
                first,
                last,
                placed_text,
                currency,
                total,
                None if eligible == _NO_AMOUNT else eligible,
                "[]",
                fingerprint,
                self._order_col,
                placed_db,
                f"{available_day}{clock}{suffix}",
                None if expires_day is None else f"{expires_day}{clock}{suffix}",
                int(numbers.matured),
                int(numbers.expired),
                str(numbers.rate),
                numbers.eligible_amount_cents,
                numbers.refunded_cents,
                numbers.refunded_amount_cents,
                numbers.base,
                numbers.bonus,
                earning.tier_code,
                earning.multiplier_text,
                numbers.rev_earn,
                numbers.rev_tier,
            ),
        )
        ctx.stage.add(
            "imp_refunds",
            (
                row,
                refund_id_for(order_id, f"~R{refund}"),
                order_id,
                customer,
                refund,
                placed_text,
                refund_fingerprint(order_id=order_id, amount_cents=refund, refunded_at=placed_at),
                1,
                self._refunded_col,
                placed_db,
                *numbers.refunds[0],
            ),
        )

    def _amounts(self, col, bad: set[int]) -> list[int]:
        """Cents of a column of amounts (`_NO_AMOUNT` for an empty cell); a cell not in the usual
        form is added to `bad`. Memoised (texts in the usual form only)."""
        cache = self._cents
        cents = list(map(cache.get, col))
        if None in cents:
            for i, found in enumerate(cents):
                if found is None:
                    text = col[i]
                    if _AMOUNT.fullmatch(text) is None:
                        bad.add(i)
                        cents[i] = 0
                        continue
                    found = cents[i] = int(text.replace(".", ""))
                    if len(cache) > PLAIN_ENTRIES:
                        cache.clear()
                        cache[""] = _NO_AMOUNT
                    cache[text] = found
        return cents

    def _batch_day(self, date: str) -> tuple | bool:
        """(`YYYY-MM-DD ` of the points' availability, of their expiry or None) for the orders of
        a day before today's that `_day_shift` vouches for; False for any other text."""
        try:
            day = dt.date.fromisoformat(date)
        except ValueError:
            return False
        found = False
        if "1970-01-01" <= date < self._now_text[:10]:
            shift = self._day_shift(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC))
            if shift is not None:
                found = (shift[0] + " ", None if shift[1] is None else shift[1] + " ")
        if len(self._batch_days) > CACHE_ENTRIES:
            self._batch_days.clear()
        self._batch_days[date] = found
        return found

    def _batch_rows(
        self,
        rows,
        ids,
        customers,
        customers_json,
        emails,
        firsts,
        lasts,
        dates,
        clocks,
        days,
        totals,
        texts_total,
        eligibles,
        texts_eligible,
        currency,
        currencies,
    ) -> list[tuple]:
        """The staged orders of a batch's good rows (see `_feed_fast`), built column by column:
        `StageBuffer.PLAIN_ORDERS`, the other columns of `imp_orders` left to their defaults."""
        earning = self.ctx.earning
        n = len(rows)
        if self.i_eligible is None:
            earnables = totals
            eligible_json = repeat("null", n)
            eligibles = repeat(None, n)
        else:
            earnables = [
                total if eligible == _NO_AMOUNT else eligible
                for total, eligible in zip(totals, eligibles, strict=True)
            ]
            eligible_json = [f'"{text}"' if text else "null" for text in texts_eligible]
            eligibles = [None if cents == _NO_AMOUNT else cents for cents in eligibles]
        if currency is not None:
            memo = self._plain_points.get(currency)
            if memo is None:
                memo = self._plain_points[currency] = {}
            points = list(map(memo.get, earnables))
            if None in points:
                for i, found in enumerate(points):
                    if found is None:
                        cents = earnables[i]
                        found = memo.get(cents)
                        if found is None:
                            if len(memo) > PLAIN_ENTRIES:
                                memo.clear()
                            found = memo[cents] = earning.points_plain(cents, currency)
                        points[i] = found
            currencies = repeat(currency, n)
            heads = repeat(self._head(currency), n)
        else:
            points = list(map(earning.points_plain, earnables, currencies))
            heads = map(self._head, currencies)
        fingerprints = map(
            _HEXDIGEST,
            map(
                hashlib.sha256,
                map(
                    str.encode,
                    map(
                        _FINGERPRINT.__mod__,
                        zip(
                            heads,
                            eligible_json,
                            customers_json,
                            dates,
                            clocks,
                            texts_total,
                            strict=True,
                        ),
                    ),
                ),
            ),
        )
        now = self._now_text
        suffix = self._db_suffix
        available = list(map(str.__add__, map(_FIRST, days), clocks))
        matured = list(map(int, map(now.__ge__, available)))
        if self.ctx.earning.settings.points_lifetime_days:
            expires = list(map(str.__add__, map(_SECOND, days), clocks))
            expired = map(and_, matured, map(int, map(now.__ge__, expires)))
        else:  # `earn_dates`: no expiry
            expires = repeat(None, n)
            expired = repeat(0, n)
        placed = list(map(str.__add__, map(str.__add__, dates, repeat(" ", n)), clocks))
        if suffix:
            placed_db = map(str.__add__, placed, repeat(suffix, n))
            available = map(str.__add__, available, repeat(suffix, n))
            if not isinstance(expires, repeat):
                expires = map(str.__add__, expires, repeat(suffix, n))
        else:
            placed_db = placed
        return list(
            zip(
                rows,
                ids,
                customers,
                emails,
                firsts,
                lasts,
                map(_PLACED_TEXT.__mod__, zip(dates, clocks, strict=True)),
                currencies,
                totals,
                eligibles,
                fingerprints,
                repeat(self._order_col, n),
                placed_db,
                available,
                expires,
                matured,
                expired,
                map(_RATE, points),
                map(_EARNABLE, points),
                map(_BASE, points),
                map(_BONUS, points),
                repeat(earning.tier_code, n),
                repeat(earning.multiplier_text, n),
                strict=True,
            )
        )

    def _head(self, currency: str) -> str:
        head = self._fingerprint_head.get(currency)
        if head is None:
            head = self._fingerprint_head[currency] = (
                '{"channel":"","currency":' + _enc(currency) + ',"eligible_total":'
            )
        return head

    def _cached(self, cache: dict, parse, text: str, *args, **kwargs):
        value = cache.get(text)
        if value is None:
            value = parse(text, *args, **kwargs)  # CellError: the row takes the checked path
            if len(cache) > CACHE_ENTRIES:
                cache.clear()
            cache[text] = value
        return value

    def _money(self, text: str) -> tuple[int, str]:
        """(cents, the fingerprint's JSON text of the amount) of a good amount, memoised (up to
        `PLAIN_ENTRIES`: amounts repeat less often than other cells, and the entries are small)."""
        found = self._cache_money.get(text)
        if found is None:
            # No `noise`: float noise fails here and the row is read by `_feed_checked`, which
            # counts every occurrence (a memo would count a repeated value once).
            cents = values.money_cents(text, decimal_comma=self.ctx.decimal_comma)
            found = (cents, _enc(values.cents_text(cents)))
            if len(self._cache_money) > PLAIN_ENTRIES:
                self._cache_money.clear()
            self._cache_money[text] = found
        return found

    @staticmethod
    def _customer(text: str) -> tuple[str, str]:
        customer = _required_customer(text)
        return customer, _enc(customer)

    def _feed_fast(self, record: Record) -> bool:
        """Stage a row that has no problem and return True; False (nothing staged) otherwise.
        The same parsers and rules as `_feed_checked` and `stage_order`, without the per-cell
        error reporting, with cells cached by their text and dates staged from their text."""
        fields = record.fields
        ctx = self.ctx
        cached = self._cached
        try:
            order_id = fields[self.i_order].strip()
            if not order_id or len(order_id) > 64:
                return False  # what `_order_id` refuses
            text = fields[self.i_customer]
            customer = self._cache_customer.get(text) or cached(
                self._cache_customer, self._customer, text
            )
            if self.i_email is None:
                email = ""
            else:
                text = fields[self.i_email]
                email = self._cache_email.get(text)
                if email is None:
                    email = cached(self._cache_email, values.email, text)
            money = self._cache_money
            text = fields[self.i_total]
            total = money.get(text) or self._money(text)
            if self.i_currency is not None:
                text = fields[self.i_currency]
                currency = self._cache_currency.get(text) or cached(
                    self._cache_currency, self._currency, text
                )
            else:
                currency = self.profile.currency or ctx.program_currency
            eligible = None
            if self.i_eligible is not None:
                text = fields[self.i_eligible]
                if text and not text.isspace():
                    eligible = money.get(text) or self._money(text)
            refunded = 0
            if self.i_refunded is not None:
                text = fields[self.i_refunded]
                if text and not text.isspace():
                    refunded = (money.get(text) or self._money(text))[0]
            first = "" if self.i_first is None else fields[self.i_first].strip()
            last = "" if self.i_last is None else fields[self.i_last].strip()
            if len(first) > 150 or len(last) > 150:
                return False  # what `values.text(max_length=150)` refuses
            text = fields[self.i_placed]
            placed_at = self.dates(text)
        except values.CellError:
            return False
        total_cents = total[0]
        if eligible is not None and eligible[0] > total_cents:
            return False
        if refunded > (total_cents if eligible is None else eligible[0]):
            return False
        day = self._utc_day(text, placed_at) if self._iso_dates and not refunded else None
        if day is None:
            stage_order(
                ctx,
                row=record.row,
                order_id=order_id,
                ckey=customer[0],
                email=email,
                first=first,
                last=last,
                placed_at=placed_at,
                currency=currency,
                total=total_cents,
                eligible=None if eligible is None else eligible[0],
                items=[],
                col=self._order_col,
                refunds=[
                    cumulative_refund(record.row, order_id, refunded, placed_at, self._refunded_col)
                ]
                if refunded
                else [],
            )
            return True
        # `stage_order` for an order without refund and a date `_utc_day` vouches for.
        date, clock, available_day, expires_day, _, _ = day
        placed_iso = f"{date}T{clock}+00:00"
        head = self._fingerprint_head.get(currency)
        if head is None:
            head = self._fingerprint_head[currency] = (
                '{"channel":"","currency":' + _enc(currency) + ',"eligible_total":'
            )
        fingerprint = hashlib.sha256(
            (
                f'{head}{"null" if eligible is None else eligible[1]},"items":[],"member":'
                f'{customer[1]},"placed_at":"{placed_iso}","total":{total[1]}}}'
            ).encode()
        ).hexdigest()
        earning = ctx.earning
        eligible_amount_cents, base, bonus, rate_text = earning.points_plain(
            total_cents if eligible is None else eligible[0], currency
        )
        # Django's SQLite text (PostgreSQL: the same with its offset), which compares as time
        # does (`now` with microseconds).
        available_db = f"{available_day} {clock}"
        expires_db = None if expires_day is None else f"{expires_day} {clock}"
        now_text = self._now_text
        matured = available_db <= now_text
        expired = matured and expires_db is not None and expires_db <= now_text
        placed_db = f"{date} {clock}"
        suffix = self._db_suffix
        if suffix:
            placed_db += suffix
            available_db += suffix
            expires_db = None if expires_db is None else expires_db + suffix
        ctx.stage.add(
            "imp_orders",
            (
                record.row,
                order_id,
                customer[0],
                email,
                first,
                last,
                f"{date}T{clock}.000000+00:00",
                currency,
                total_cents,
                None if eligible is None else eligible[0],
                "[]",
                fingerprint,
                self._order_col,
                placed_db,
                available_db,
                expires_db,
                int(matured),
                int(expired),
                rate_text,
                eligible_amount_cents,
                0,
                0,
                base,
                bonus,
                earning.tier_code,
                earning.multiplier_text,
                0,
                0,
            ),
        )
        return True

    def _utc_day(self, text: str, placed_at: dt.datetime) -> tuple | None:
        """(date, time, date available, date expiring or None) as text, then the shifts from
        the order's date to those two (timedelta), for a date written in UTC to the second
        (`placed_at` is what `self.dates` read from `text`); None otherwise.

        `earn_dates` moves an order's date by whole days (`pending_days`, then
        `points_lifetime_days`): the time of day stays, only the dates move, once per day of the
        file. That is checked per day (the day's first and last second give the same shift as
        this row); a day where it does not hold is never taken from its text."""
        match = _UTC_SECOND.match(text)
        if match is None:
            return None
        date, clock = match.groups()
        found = self._days.get(date, False)
        if found is False:
            found = self._day_shift(placed_at)
            if len(self._days) > CACHE_ENTRIES:
                self._days.clear()
            self._days[date] = found
        if found is None:
            return None
        return date, clock, *found

    def _day_shift(self, placed_at: dt.datetime) -> tuple | None:
        earning = self.ctx.earning
        shifts = set()
        for moment in (
            placed_at,
            placed_at.replace(hour=0, minute=0, second=0),
            placed_at.replace(hour=23, minute=59, second=59),
        ):
            available_at, expires_at, _, _ = earning.dates(moment)
            shifts.add((available_at - moment, None if expires_at is None else expires_at - moment))
        if len(shifts) != 1:
            return None
        available_shift, expires_shift = shifts.pop()
        whole_days = all(
            s is None or (s.seconds == 0 and s.microseconds == 0)
            for s in (available_shift, expires_shift)
        )
        if not whole_days:
            return None
        day = placed_at.date()
        return (
            (day + available_shift).isoformat(),
            None if expires_shift is None else (day + expires_shift).isoformat(),
            available_shift,
            expires_shift,
        )

    def _currency(self, text: str) -> str:
        return self.ctx.check_currency(values.currency(text))

    def _feed_checked(self, record: Record) -> None:
        fields = record.fields
        ctx = self.ctx
        raw_order = fields[self.i_order].strip() if self.i_order < len(fields) else ""
        order_key = raw_order or None
        if self.report_problems(record, order_key):
            return
        bad = False

        def run(index, parse, *args, **kwargs):
            nonlocal bad
            if index is None:
                return None
            try:
                return parse(fields[index], *args, **kwargs)
            except values.CellError as exc:
                bad = True
                self.cell_error(record, index, exc, order_key)
                return None

        order_id = run(self.i_order, _order_id)
        customer = run(self.i_customer, _required_customer)
        email = run(self.i_email, values.email) or ""
        placed_at = run(self.i_placed, self.dates)
        decimal_comma = ctx.decimal_comma
        total = run(
            self.i_total, values.money_cents, decimal_comma=decimal_comma, noise=ctx.counters
        )
        if self.i_currency is not None:
            currency = run(self.i_currency, lambda v: ctx.check_currency(values.currency(v)))
        else:
            currency = self.profile.currency or ctx.program_currency
        eligible = None
        if self.i_eligible is not None and fields[self.i_eligible].strip():
            eligible = run(
                self.i_eligible, values.money_cents, decimal_comma=decimal_comma, noise=ctx.counters
            )
        refunded = 0
        if self.i_refunded is not None and fields[self.i_refunded].strip():
            refunded = (
                run(
                    self.i_refunded,
                    values.money_cents,
                    decimal_comma=decimal_comma,
                    noise=ctx.counters,
                )
                or 0
            )
        first = run(self.i_first, values.text, max_length=150) or ""
        last = run(self.i_last, values.text, max_length=150) or ""
        if bad:
            return
        if eligible is not None and eligible > total:
            self.cell_error(
                record,
                self.i_eligible,
                values.CellError(
                    "eligible_exceeds_total",
                    f"is more than the order's total {fields[self.i_total]}",
                ),
                order_id,
            )
            return
        earnable = total if eligible is None else eligible
        if refunded > earnable:
            self.cell_error(
                record,
                self.i_refunded,
                values.CellError(
                    "refund_exceeds_order",
                    f"adds up to more than the order's eligible amount "
                    f"{values.cents_text(earnable)}",
                ),
                order_id,
            )
            return
        stage_order(
            ctx,
            row=record.row,
            order_id=order_id,
            ckey=customer,
            email=email,
            first=first,
            last=last,
            placed_at=placed_at,
            currency=currency,
            total=total,
            eligible=eligible,
            items=[],
            col=self.header[self.i_order],
            refunds=[
                cumulative_refund(
                    record.row, order_id, refunded, placed_at, self.header[self.i_refunded]
                )
            ]
            if refunded
            else [],
        )


def _order_id(value: str) -> str:
    value = value.strip()
    if not value:
        raise values.CellError("required", "is empty; an order id is required")
    if len(value) > 64:
        raise values.CellError("too_long", f"is {len(value)} characters long; at most 64")
    return value


def _required_customer(value: str) -> str:
    customer = values.customer_id(value)
    if not customer:
        raise values.CellError("required", "is empty; a customer id is required")
    return customer


def stage_order(
    ctx: ParseContext,
    *,
    row: int,
    order_id: str,
    ckey: str,
    email: str,
    first: str,
    last: str,
    placed_at: dt.datetime,
    currency: str,
    total: int,
    eligible: int | None,
    items: list[dict],
    col: str,
    refunds: list[tuple] = (),
) -> None:
    """Stage an order and its refunds, with what they earn and reverse (`earning.Earning`).

    `refunds`: (row, refund id, amount in cents, refunded at, cumulative, column), in the order
    they happened.
    """
    stored, hashed = items_json(items) if items else ("[]", "[]")
    db_dt = ctx.db_datetime
    if placed_at.tzinfo is dt.UTC:
        placed_text = placed_at.isoformat(timespec="microseconds")
        # isoformat() leaves out a zero fraction: the same text without ".000000".
        placed_iso = placed_text if placed_at.microsecond else placed_text[:19] + placed_text[26:]
        # On SQLite, str() of the naive UTC value, from the same text (`_sqlite_datetime`).
        placed_db = placed_text[:10] + " " + placed_iso[11:-6]
        if db_dt is not _sqlite_datetime:
            placed_db = db_dt(placed_at)
    else:
        placed_text = utc_text(placed_at)
        placed_iso = placed_at.isoformat()
        placed_db = db_dt(placed_at)
    fingerprint = order_fingerprint(
        member=ckey,
        placed_at=placed_at,
        currency=currency,
        total_cents=total,
        eligible_cents=eligible,
        items_sorted_json=hashed,
        placed_iso=placed_iso,
    )
    earning = ctx.earning
    if refunds:
        numbers = earning.order(
            placed_at=placed_at,
            currency=currency,
            eligible_cents=total if eligible is None else eligible,
            refunds=[r[2] for r in refunds],
        )
        available_at, expires_at = numbers.available_at, numbers.expires_at
        matured, expired, rate_text = numbers.matured, numbers.expired, str(numbers.rate)
        eligible_amount_cents, base, bonus = (
            numbers.eligible_amount_cents,
            numbers.base,
            numbers.bonus,
        )
        refunded_cents, refunded_amount_cents = (
            numbers.refunded_cents,
            numbers.refunded_amount_cents,
        )
        rev_earn, rev_tier = numbers.rev_earn, numbers.rev_tier
    else:
        # No refund: what `Earning.order` gives, without its refund arithmetic (all zeros).
        _, _, _, eligible_amount_cents, base, bonus, rate_text = earning.points(
            total if eligible is None else eligible, currency
        )
        available_at, expires_at, matured, expired = earning.dates(placed_at)
        refunded_cents = refunded_amount_cents = rev_earn = rev_tier = 0
    ctx.stage.add(
        "imp_orders",
        (
            row,
            order_id,
            ckey,
            email,
            first,
            last,
            placed_text,
            currency,
            total,
            eligible,
            stored,
            fingerprint,
            col,
            placed_db,
            db_dt(available_at),
            db_dt(expires_at),
            int(matured),
            int(expired),
            rate_text,
            eligible_amount_cents,
            refunded_cents,
            refunded_amount_cents,
            base,
            bonus,
            earning.tier_code,
            earning.multiplier_text,
            rev_earn,
            rev_tier,
        ),
    )
    if not refunds:
        return
    for (r_row, refund_id, amount, refunded_at, cumulative, r_col), split in zip(
        refunds, numbers.refunds, strict=True
    ):
        ctx.stage.add(
            "imp_refunds",
            (
                r_row,
                refund_id,
                order_id,
                ckey,
                amount,
                utc_text(refunded_at),
                refund_fingerprint(order_id=order_id, amount_cents=amount, refunded_at=refunded_at),
                int(cumulative),
                r_col,
                db_dt(refunded_at),
                *split,
            ),
        )


def stage_ledger_refund(ctx, *, row, refund_id, order_id, ckey, cents, refunded_at, col) -> None:
    """A refund of an order already in the ledger: `refund_record` will compute its reversal."""
    ctx.stage.add(
        "imp_refunds",
        (
            row,
            refund_id,
            order_id,
            ckey,
            cents,
            utc_text(refunded_at),
            refund_fingerprint(order_id=order_id, amount_cents=cents, refunded_at=refunded_at),
            0,
            col,
            ctx.db_datetime(refunded_at),
            0,
            0,
            0,
        ),
    )


def cumulative_refund(row: int, order_id: str, cents: int, placed_at: dt.datetime, col: str):
    """A file's "refunded so far" as one refund dated when the order was placed (the file says
    how much, not when); its id names the total, so a later export with more adds the rest."""
    return (row, refund_id_for(order_id, f"~R{cents}"), cents, placed_at, True, col)


class LinesParser(_ColumnParser):
    """One row per order line; guest lines (no customer) are staged apart (`imp_guest_rows`)
    and become guest orders (`guests`)."""

    def __init__(self, ctx: ParseContext, header: list[str], profile: Profile) -> None:
        super().__init__(ctx, header)
        self.profile = profile
        self.dates = values.DateParser(list(profile.date_formats), now=ctx.now)
        c = profile.columns
        self.i_order = self.col(c.get("order_id"))
        self.i_customer = self.col(c.get("customer_id"))
        self.i_placed = self.col(c.get("placed_at"))
        self.i_qty = self.col(c.get("quantity"))
        self.i_price = self.col(c.get("unit_price"))
        self.i_amount = self.col(c.get("total"))
        self.i_sku = self.col(c.get("sku"))
        self.i_desc = self.col(c.get("description"))
        self.i_currency = self.col(c.get("currency")) if not profile.currency else None
        self.i_email = self.col(c.get("email"))
        self.i_first = self.col(c.get("first_name"))
        self.i_last = self.col(c.get("last_name"))
        self.i_country = self.col(c.get("country"))
        self.last_country: tuple = ()
        self.prefix = profile.refund_prefix
        self.negative_is_return = profile.refund_negative_quantity

    def feed(self, record: Record) -> None:
        fields = record.fields
        ctx = self.ctx
        raw_order = fields[self.i_order].strip() if self.i_order < len(fields) else ""
        if record.problems:
            self.report_problems(record, raw_order or None)
            return
        try:
            customer = values.customer_id(fields[self.i_customer])
        except values.CellError as exc:
            self.cell_error(record, self.i_customer, exc, raw_order or None)
            return
        if not customer:
            ctx.counters.guest_rows += 1
        bad = False
        order_key = raw_order or None

        def run(index, parse, *args, **kwargs):
            nonlocal bad
            if index is None:
                return None
            try:
                return parse(fields[index], *args, **kwargs)
            except values.CellError as exc:
                bad = True
                self.cell_error(record, index, exc, order_key)
                return None

        order_id = run(self.i_order, _order_id)
        placed_at = run(self.i_placed, self.dates)
        decimal_comma = ctx.decimal_comma
        if self.i_qty is not None and self.i_price is not None:
            qty = run(self.i_qty, values.quantity)
            price = run(
                self.i_price,
                values.unit_price_units,
                decimals=self.profile.unit_price_decimals,
                decimal_comma=decimal_comma,
                noise=ctx.counters,
            )
        else:
            qty = 1
            price = run(
                self.i_amount,
                values.money_cents,
                decimal_comma=decimal_comma,
                negative=True,
                noise=ctx.counters,
            )
            price = None if price is None else price * (values.UNIT_SCALE // 100)
        sku = run(self.i_sku, values.text, max_length=64) or ""
        description = run(self.i_desc, values.text, max_length=500) or ""
        if self.i_currency is not None:
            currency = run(self.i_currency, lambda v: ctx.check_currency(values.currency(v)))
        else:
            currency = self.profile.currency or ctx.program_currency
        email = run(self.i_email, values.email) or ""
        first = run(self.i_first, values.text, max_length=150) or ""
        last = run(self.i_last, values.text, max_length=150) or ""
        if bad:
            return
        is_return = bool(self.prefix and order_id.startswith(self.prefix)) or (
            self.negative_is_return and qty * price < 0
        )
        if not customer:
            gkey = guest_key_for_email(email) if email else ""
            ctx.stage.add(
                "imp_guest_rows",
                (
                    record.row,
                    order_id,
                    gkey,
                    utc_text(placed_at),
                    currency,
                    sku,
                    description,
                    qty,
                    price,
                    int(is_return),
                ),
            )
            return
        ctx.stage.add(
            "imp_rows",
            (
                record.row,
                order_id,
                customer,
                email,
                first,
                last,
                utc_text(placed_at),
                currency,
                sku,
                description,
                qty,
                price,
                int(is_return),
            ),
        )
        if self.i_country is not None and self.i_country < len(fields):
            self._country(customer, order_id, placed_at, fields[self.i_country])

    def _country(self, customer: str, order_id: str, placed_at, text: str) -> None:
        """Stage the customer's country once per order (its lines are neighbours); a name
        `members.countries` cannot place is left out (the member's country stays unknown)."""
        code = country_code_for(text)
        key = (customer, order_id, code)
        if code and key != self.last_country:
            self.last_country = key
            self.ctx.stage.add("imp_countries", (customer, utc_text(placed_at), code))


SHOPIFY_DATE_FORMATS = ("%Y-%m-%d %H:%M:%S %z", "iso")
# Financial statuses that earn nothing: the money was never taken.
SHOPIFY_NOT_EARNING = frozenset({"voided", "pending"})


class ShopifyParser(_ColumnParser):
    """Shopify's orders export; rows of one order are consecutive, order fields on the first."""

    def __init__(self, ctx: ParseContext, header: list[str]) -> None:
        super().__init__(ctx, header)
        self.dates = values.DateParser(list(SHOPIFY_DATE_FORMATS), now=ctx.now)
        col = self.col
        self.i_name = col("Name")
        self.i_email = col("Email")
        self.i_status = col("Financial Status")
        self.i_currency = col("Currency")
        self.i_subtotal = col("Subtotal")
        self.i_total = col("Total")
        self.i_refunded = col("Refunded Amount")
        self.i_created = col("Created at")
        self.i_paid = col("Paid at")
        self.i_billing = col("Billing Name")
        self.i_qty = col("Lineitem quantity")
        self.i_item = col("Lineitem name")
        self.i_price = col("Lineitem price")
        self.i_sku = col("Lineitem sku")
        self.current: dict | None = None
        self._keys: dict[str, str] = {}

    def _customer_key(self, email: str) -> str:
        key = self._keys.get(email)
        if key is None:
            key = self._keys[email] = external_id_for_email(email)
        return key

    def feed(self, record: Record) -> None:
        fields = record.fields
        name = fields[self.i_name].strip() if fields and self.i_name < len(fields) else ""
        if self.current is not None and name != self.current["name"]:
            self._finish()
        if self.current is None:
            self.current = {"name": name, "row": record.row, "bad": False, "items": [], "rows": 0}
            first = True
        else:
            first = False
        order = self.current
        order["rows"] += 1
        if record.problems:
            self.report_problems(record, name or None)
            order["bad"] = True
            return
        if first:
            self._order_fields(record, order)
        self._line(record, order)

    def _run(self, record, order, index, parse, *args, **kwargs):
        if index is None:
            return None
        try:
            return parse(record.fields[index], *args, **kwargs)
        except values.CellError as exc:
            order["bad"] = True
            self.cell_error(record, index, exc, order["name"] or None)
            return None

    def _order_fields(self, record: Record, order: dict) -> None:
        run = self._run
        order["order_id"] = run(record, order, self.i_name, _order_id)
        order["email"] = run(record, order, self.i_email, values.email) or ""
        order["status"] = record.fields[self.i_status].strip().lower()
        created = self.i_created if self.i_created is not None else self.i_paid
        order["placed_at"] = run(record, order, created, self.dates)
        order["currency"] = run(
            record,
            order,
            self.i_currency,
            lambda v: self.ctx.check_currency(values.currency(v)),
        )
        order["subtotal"] = run(
            record, order, self.i_subtotal, values.money_cents, noise=self.ctx.counters
        )
        order["total"] = run(
            record, order, self.i_total, values.money_cents, noise=self.ctx.counters
        )
        refunded = 0
        if self.i_refunded is not None and record.fields[self.i_refunded].strip():
            refunded = (
                run(record, order, self.i_refunded, values.money_cents, noise=self.ctx.counters)
                or 0
            )
        order["refunded"] = refunded
        billing = ""
        if self.i_billing is not None:
            billing = run(record, order, self.i_billing, values.text, max_length=300) or ""
        first, _, last = billing.partition(" ")
        order["first_name"], order["last_name"] = first[:150], last.strip()[:150]
        if order["bad"]:
            return
        if order["subtotal"] > order["total"]:
            order["bad"] = True
            self.cell_error(
                record,
                self.i_subtotal,
                values.CellError("eligible_exceeds_total", "is more than the order's Total"),
                order["order_id"],
            )
        elif refunded > order["total"]:
            order["bad"] = True
            self.cell_error(
                record,
                self.i_refunded,
                values.CellError("refund_exceeds_order", "adds up to more than the order's Total"),
                order["order_id"],
            )

    def _line(self, record: Record, order: dict) -> None:
        if self.i_qty is None:
            return
        fields = record.fields
        if not any(
            fields[i].strip() for i in (self.i_qty, self.i_item, self.i_sku) if i is not None
        ):
            return
        qty = self._run(record, order, self.i_qty, values.quantity)
        price = None
        if self.i_price is not None and fields[self.i_price].strip():
            price = self._run(
                record, order, self.i_price, values.money_cents, noise=self.ctx.counters
            )
        item_name = ""
        if self.i_item is not None:
            item_name = self._run(record, order, self.i_item, values.text, max_length=500) or ""
        sku = ""
        if self.i_sku is not None:
            sku = self._run(record, order, self.i_sku, values.text, max_length=64) or ""
        order["items"].append(
            {
                "sku": sku,
                "name": item_name,
                "quantity": qty,
                "unit_price": None if price is None else values.cents_text(price),
            }
        )

    def finish(self) -> None:
        if self.current is not None:
            self._finish()

    def _finish(self) -> None:
        order, self.current = self.current, None
        ctx = self.ctx
        if order["bad"]:
            return
        if not order["email"]:  # a guest (the export's customer is the email): a guest order
            ctx.counters.guest_rows += order["rows"]
            if order["status"] in SHOPIFY_NOT_EARNING:  # never paid: not an order yet
                ctx.counters.guest_rows_skipped += order["rows"]
                return
            ctx.stage.add(
                "imp_guest_orders",
                (
                    order["row"],
                    order["order_id"],
                    "",
                    utc_text(order["placed_at"]),
                    order["currency"],
                    order["total"],
                    order["subtotal"],
                    json.dumps(order["items"], separators=(",", ":")),
                ),
            )
            return
        if order["status"] in SHOPIFY_NOT_EARNING:
            ctx.counters.not_earning += 1
            return
        subtotal = order["subtotal"]
        # Shopify refunds shipping and taxes too; only the goods (Subtotal) ever earned.
        refunded = min(order["refunded"], subtotal)
        stage_order(
            ctx,
            row=order["row"],
            order_id=order["order_id"],
            # The export has no customer id: the customer is their email's pseudonym, never the
            # email itself (which stays the member's email).
            ckey=self._customer_key(order["email"]),
            email=order["email"],
            first=order["first_name"],
            last=order["last_name"],
            placed_at=order["placed_at"],
            currency=order["currency"],
            total=order["total"],
            eligible=subtotal,
            items=order["items"],
            col="Name",
            refunds=[
                cumulative_refund(
                    order["row"], order["order_id"], refunded, order["placed_at"], "Refunded Amount"
                )
            ]
            if refunded
            else [],
        )


def parser_for(fmt: str, ctx: ParseContext, header: list[str], profile: Profile | None):
    if fmt == ORDERS:
        return OrdersParser(ctx, header, profile)
    if fmt == LINES:
        return LinesParser(ctx, header, profile)
    return ShopifyParser(ctx, header)
