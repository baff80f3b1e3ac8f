"""The import, end to end: the one implementation behind the command and the admin.

1. Record the run (`runs.run_start`): a real run of a file already running is refused.
2. Open the file (`reader`): encoding, delimiter, header; pick the format and profile.
3. Parse and stage every row (`formats`, `assemble` for line files), streaming.
4. Check across rows and against the ledger (`checks`), set-based.
5. Bad rows: a dry run lists them and stops; a real run stops too, having written nothing, unless
   `skip_invalid`, in which case it writes the good rows and reports the rest.
6. Write, one chunk of whole customers per transaction (`writer`); then refunds of orders already
   in the ledger (through `refund_record`); then the guest rows as guest orders (`guests`); then
   every imported member's tier, as of today, with a tier-history entry marked `import`.
7. Close the run with its counts, status and error report.

Re-running a file (after a kill, or by mistake) writes only what is missing: orders already
recorded with the same content are skipped, refunds are keyed, members are found by external id.
So a killed run followed by a new run ends exactly where one clean run would.

Nothing here raises to the caller for bad input: file-level and row-level problems end in the
result (`status`, `message`, `errors`); unexpected errors end the run as `failed` with a message.
"""

from __future__ import annotations

import csv
import logging
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from django.db.models import F
from django.utils import timezone

from config.errors import ServiceError
from loyalty.importing import checks, staging
from loyalty.importing.assemble import assemble_lines
from loyalty.importing.countries import members_country_fill
from loyalty.importing.earning import Earning
from loyalty.importing.exclusive import ledger_exclusive
from loyalty.importing.formats import Counters, ParseContext, StageBuffer, parser_for
from loyalty.importing.guests import guests_assemble, guests_write
from loyalty.importing.parts import staged_part_keep
from loyalty.importing.profiles import LINES, ORDERS, SHOPIFY, SHOPIFY_REQUIRED, detect, profile_get
from loyalty.importing.reader import CsvSource, FileError, file_checksum
from loyalty.importing.runs import run_finish, run_release, run_start
from loyalty.importing.staging import dec, rows, scalar
from loyalty.importing.writer import ChunkResult, ChunkWriter, dry_run_counts
from loyalty.models import ExchangeRate, ImportRun, TierChange
from loyalty.selectors.program import program_settings
from loyalty.selectors.tiers import tier_ladder
from loyalty.services import tiers
from loyalty.services.orders import refund_record
from members.actors import Actor
from members.exports import escape_formula

logger = logging.getLogger("loyalty.importing")

CHUNK_ORDERS = 10_000
SHOWN_ERRORS = 1000
ERROR_REPORT_COLUMNS = ("row", "column", "value", "error", "message")
Progress = Callable[[str, int, int], None]


@dataclass
class ImportResult:
    run: ImportRun
    status: str
    message: str = ""
    dry_run: bool = False
    format: str = ""
    profile: str = ""
    delimiter: str = ""
    rows_read: int = 0
    orders_created: int = 0
    orders_present: int = 0
    refunds_created: int = 0
    members_created: int = 0
    points_posted: int = 0
    points_earned: int = 0
    points_reversed: int = 0
    points_expired: int = 0
    rows_rejected: int = 0
    error_count: int = 0
    guest_rows: int = 0
    guest_rows_skipped: int = 0
    guest_orders_created: int = 0
    guest_orders_present: int = 0
    not_earning: int = 0
    returns_before_history: int = 0
    duplicate_rows: int = 0
    # Amounts a spreadsheet wrote as binary floats (9.949999999999999), read as cents.
    float_amounts: int = 0
    tier_changes: int = 0
    errors: list[tuple] = field(default_factory=list)
    error_report: str = ""
    seconds: float = 0.0
    # Seconds spent per phase (read, check, write, refunds, tiers): what the benchmark reports.
    phases: dict[str, float] = field(default_factory=dict)

    def lap(self, phase: str, since: float) -> float:
        now = time.monotonic()
        self.phases[phase] = self.phases.get(phase, 0.0) + now - since
        return now

    @property
    def ok(self) -> bool:
        return self.status in (ImportRun.Status.SUCCEEDED, ImportRun.Status.PARTIAL)

    @property
    def rows_skipped(self) -> int:
        return self.guest_rows_skipped + self.not_earning + self.returns_before_history


def _escape(value) -> str:
    """A spreadsheet never runs what we write: formulas become text."""
    return escape_formula(value)


def _required_header(source: CsvSource, fmt: str, profile) -> None:
    keys: dict[str, list[int]] = {}
    for index, name in enumerate(source.header):
        if name:
            keys.setdefault(name.lower(), []).append(index)
    if fmt == SHOPIFY:
        needed = list(SHOPIFY_REQUIRED)
        mapped = [*SHOPIFY_REQUIRED, "Refunded Amount", "Created at", "Lineitem quantity"]
    else:
        needed = profile.required()
        mapped = [*needed, *profile.columns.values()]
    missing = [n for n in needed if n.lower() not in keys]
    if missing:
        raise FileError(
            "missing_column",
            f"Required column{'s' if len(missing) > 1 else ''} missing: {', '.join(missing)} "
            f"(the header has: {', '.join(source.header[:20])}).",
            row=source.header_row,
        )
    for name in mapped:
        places = keys.get(name.lower(), [])
        if len(places) > 1:
            columns = " and ".join(str(p + 1) for p in places)
            raise FileError(
                "duplicate_column",
                f"Column '{name}' appears more than once in the header (columns {columns}); "
                "which one holds the data is ambiguous.",
                row=source.header_row,
            )


def _resolve(fmt: str, profile_name: str | None, header: list[str]):
    if profile_name:
        profile = profile_get(profile_name)
        return profile.layout, profile
    if fmt == "auto":
        return detect(header)
    if fmt == ORDERS:
        return ORDERS, profile_get(ORDERS)
    if fmt == LINES:
        return LINES, profile_get("online-retail")
    if fmt == SHOPIFY:
        return SHOPIFY, None
    raise ServiceError("unknown_format", f"Unknown format '{fmt}' (auto, orders, lines, shopify).")


def import_orders(
    *,
    path: str | Path,
    actor: Actor,
    fmt: str = "auto",
    profile_name: str | None = None,
    dry_run: bool = False,
    skip_invalid: bool = False,
    errors_path: str | Path | None = None,
    file_name: str | None = None,
    via: str = "command",
    progress: Progress | None = None,
    chunk_orders: int = CHUNK_ORDERS,
    on_errors: Callable[[Iterator[tuple]], None] | None = None,
    exclusive: bool = False,
    part: int = 0,
    parts: int = 1,
) -> ImportResult:
    """Import (or with `dry_run`, check) one file of historical orders. See the module doc.

    `exclusive`: write every chunk in one transaction with the ledger locked and its indexes
    built once at the end (`exclusive.ledger_exclusive`): for a first import before launch.
    `part` of `parts`: only that share of the file's customers (`loyalty.importing.parts`)."""
    started = time.monotonic()
    path = Path(path)
    checksum, size = file_checksum(path)
    run = run_start(
        actor=actor,
        file_name=file_name or path.name,
        file_size=size,
        checksum=checksum,
        fmt=fmt,
        profile=profile_name or "",
        dry_run=dry_run,
        skip_invalid=skip_invalid,
        via=via,
        part=part,
        parts=parts,
    )
    result = ImportResult(run=run, status=ImportRun.Status.RUNNING, dry_run=dry_run)
    progress = progress or (lambda phase, done, total: None)
    tuned = {}
    try:
        tuned = staging.session_tune()
        _run(
            result,
            path=path,
            actor=actor,
            fmt=fmt,
            profile_name=profile_name,
            dry_run=dry_run,
            skip_invalid=skip_invalid,
            errors_path=errors_path,
            progress=progress,
            chunk_orders=chunk_orders,
            on_errors=on_errors,
            exclusive=exclusive,
            part=(part, parts),
        )
    except (FileError, ServiceError) as exc:
        result.status = ImportRun.Status.FAILED
        result.message = exc.message
    except Exception as exc:  # never a traceback to the operator: the run says what happened
        logger.error("import %s failed: %s", run.pk, traceback.format_exc())
        result.status = ImportRun.Status.FAILED
        result.message = f"Unexpected error ({type(exc).__name__}): {exc}"
    finally:
        try:
            staging.tables_drop()
            staging.session_restore(tuned)
        except Exception:  # the connection may be gone; temporary tables go with it
            logger.warning("import %s: could not drop staging tables", run.pk)
    result.seconds = time.monotonic() - started
    try:
        result.run = run_finish(
            run,
            status=result.status,
            message=result.message,
            rows_read=result.rows_read,
            rows_rejected=result.rows_rejected,
            rows_skipped=result.rows_skipped,
            error_report=result.error_report,
            format=result.format or fmt,
            profile=result.profile,
            **(
                {
                    "orders_created": result.orders_created,
                    "orders_present": result.orders_present,
                    "refunds_created": result.refunds_created,
                    "members_created": result.members_created,
                    "points_posted": result.points_posted,
                    "guest_orders_created": result.guest_orders_created,
                }
                if dry_run
                else {}
            ),
        )
    except Exception:
        if not dry_run:
            run_release(checksum, part)
        raise
    if not dry_run:
        _totals_from_run(result)
    return result


def _totals_from_run(result: ImportResult) -> None:
    """A real run's counters are the ones committed with the rows (see `writer`)."""
    run = result.run
    result.orders_created = run.orders_created
    result.refunds_created = run.refunds_created
    result.members_created = run.members_created
    result.points_posted = run.points_posted
    result.orders_present = run.orders_present
    result.guest_orders_created = run.guest_orders_created


def _run(
    result: ImportResult,
    *,
    path: Path,
    actor: Actor,
    fmt: str,
    profile_name: str | None,
    dry_run: bool,
    skip_invalid: bool,
    errors_path,
    progress: Progress,
    chunk_orders: int,
    on_errors,
    exclusive: bool,
    part: tuple[int, int],
) -> None:
    run = result.run
    clock = time.monotonic()
    source = CsvSource(path).open()
    fmt, profile = _resolve(fmt, profile_name, source.header)
    _required_header(source, fmt, profile)
    result.format = fmt
    result.profile = profile.name if profile else ""
    result.delimiter = source.delimiter_name
    ImportRun.objects.filter(pk=run.pk).update(format=fmt, profile=result.profile)

    settings = program_settings()
    rates = {settings.currency: Decimal("1")}
    rates.update(dict(ExchangeRate.objects.values_list("currency", "rate")))
    now = timezone.now()
    # New members start in the entry tier; the entry tier's multiplier is what they earn at.
    earning = Earning(
        settings=settings, rates=rates, now=now, tier=tiers.tier_for_order(member_id=0)
    )
    staging.tables_create()
    stage = StageBuffer()
    ctx = ParseContext(
        stage=stage,
        program_currency=settings.currency,
        accepted_currencies=set(rates),
        now=now,
        earning=earning,
        decimal_comma=source.delimiter == ";",
        counters=Counters(),
    )
    parser = parser_for(fmt, ctx, source.header, profile)
    total_bytes = source.size
    every = 0
    for record in source.records():
        ctx.counters.rows_read += 1
        parser.feed(record)
        every += 1
        if every == 5000:
            every = 0
            progress("read", source.bytes_read, total_bytes)
    if hasattr(parser, "finish"):
        parser.finish()
    stage.flush()
    progress("read", total_bytes, total_bytes)
    result.rows_read = ctx.counters.rows_read
    if result.rows_read == 0:
        raise FileError("no_rows", "The file has a header but no rows: nothing to import.")
    staging.tables_index()
    clock = result.lap("read", clock)

    columns = profile.columns if profile else {}
    order_col = columns.get("order_id", "Name")
    customer_col = columns.get("customer_id", "Email")
    email_col = columns.get("email", "Email")
    if fmt == LINES:
        checks.lines_precheck(order_col, customer_col)
        quantity_col = columns.get("quantity") or columns.get("total") or "quantity"
        assemble_lines(ctx, quantity_column=quantity_col, order_column=order_col)
        guests_assemble(ctx, quantity_column=quantity_col)
        staging.tables_analyze()
    if fmt == SHOPIFY:
        checks.remap_email_customers()
    ctx.counters.duplicate_rows = checks.duplicates(orders_have_refunds=fmt != LINES)
    staged_part_keep(part=part[0], parts=part[1])
    if part[0]:
        ctx.counters = Counters(rows_read=ctx.counters.rows_read)  # part 0 reports the file's
    checks.against_ledger()
    checks.customers(customer_col, email_col)
    checks.refunds()
    checks.cascade()
    checks.rejected_rows_report(order_col)
    progress("check", 1, 1)
    clock = result.lap("check", clock)

    counters = ctx.counters
    result.guest_rows = counters.guest_rows
    result.guest_rows_skipped = counters.guest_rows_skipped
    result.not_earning = counters.not_earning
    result.returns_before_history = counters.returns_before_history
    result.duplicate_rows = counters.duplicate_rows
    result.float_amounts = counters.float_amounts
    result.orders_present = scalar("SELECT COUNT(*) FROM imp_orders WHERE present = 1 AND bad = 0")
    if not dry_run:
        ImportRun.objects.filter(pk=run.pk).update(orders_present=result.orders_present)
    _collect_errors(result, errors_path, on_errors)
    if result.error_count and not dry_run and not skip_invalid:
        result.status = ImportRun.Status.REJECTED
        # Name the switch the person in front of us has: the admin's checkbox or the flag.
        how = (
            "tick “Skip the bad rows” to import the good rows"
            if run.via == "admin"
            else "import the good rows with --skip-invalid"
        )
        result.message = (
            f"{result.rows_rejected:,} row(s) have errors; nothing was imported. Fix them, or "
            f"{how}."
        )
        return

    total = ChunkResult()
    if dry_run:
        total = dry_run_counts()
    else:
        writer = ChunkWriter(run=run, actor=actor, earning=earning, customer_column=customer_col)
        boundaries = _chunks(chunk_orders)
        # (Nothing to write: no lock, no index built again.)
        with ledger_exclusive(writer.timings) if exclusive and boundaries else nullcontext():
            if exclusive:
                total.add(writer.recorded_before_the_lock())
            for done, (lo, hi) in enumerate(boundaries, start=1):
                total.add(writer.write_chunk(lo, hi))
                progress("write", done, len(boundaries))
        logger.debug(
            "import %s write steps: %s",
            run.pk,
            ", ".join(f"{k} {v:.2f}s" for k, v in writer.timings.items()),
        )
    clock = result.lap("write", clock)
    refunds_done, refund_errors = _ledger_refunds(actor, dry_run)
    total.refunds_created += refunds_done
    late_errors = total.errors + refund_errors
    if part[0] == 0:  # the file's guests are part 0's, like its other file-level counters
        guests = guests_write(run=run, dry_run=dry_run, order_column=order_col)
        result.guest_orders_created, result.guest_orders_present = guests.created, guests.present
        late_errors += guests.errors
    if late_errors:
        _late_errors(result, late_errors, errors_path)
    if not dry_run and refunds_done:
        ImportRun.objects.filter(pk=run.pk).update(
            refunds_created=F("refunds_created") + refunds_done
        )
    result.points_earned = total.points_earned
    result.points_reversed = total.points_reversed
    result.points_expired = total.points_expired
    if dry_run:
        result.orders_created = total.orders_created
        result.refunds_created = total.refunds_created
        result.members_created = total.members_created
        result.points_posted = total.points_posted
    else:
        clock = result.lap("refunds", clock)
        if fmt == LINES:  # the members' country from the file's, where still unknown
            members_country_fill(now=now)
        result.tier_changes = _tiers_evaluate(actor, progress)
        result.lap("tiers", clock)
    result.status = (
        ImportRun.Status.PARTIAL
        if result.error_count and not dry_run
        else ImportRun.Status.REJECTED
        if result.error_count
        else ImportRun.Status.SUCCEEDED
    )
    if dry_run:
        result.message = (
            f"Dry run: {result.rows_rejected:,} row(s) have errors."
            if result.error_count
            else "Dry run: no errors; nothing was written."
        )


def _chunks(chunk_orders: int) -> list[tuple[str, str]]:
    """Ranges of customers holding about `chunk_orders` orders to write each (whole customers)."""
    boundaries: list[tuple[str, str]] = []
    lo, count, last = None, 0, None
    for ckey, n in staging.fetch_iter(
        "SELECT ckey, COUNT(*) FROM imp_orders WHERE bad = 0 AND present = 0 "
        "GROUP BY ckey ORDER BY ckey"
    ):
        if lo is None:
            lo = ckey
        count += n
        last = ckey
        if count >= chunk_orders:
            boundaries.append((lo, ckey))
            lo, count = None, 0
    if lo is not None:
        boundaries.append((lo, last))
    return boundaries


def _ledger_refunds(actor: Actor, dry_run: bool) -> tuple[int, list[tuple]]:
    """Refunds of orders recorded before this import, through the ledger's own refund service."""
    done, errors = 0, []
    after = ("", "")
    while True:
        batch = rows(
            "SELECT refunded_at, refund_id, order_id, apply_cents, row_no, col FROM imp_refunds "
            "WHERE target = 'db' AND bad = 0 AND present = 0 AND apply_cents > 0 "
            "AND (refunded_at > %s OR (refunded_at = %s AND refund_id > %s)) "
            "ORDER BY refunded_at, refund_id LIMIT 500",
            [after[0], after[0], after[1]],
        )
        if not batch:
            return done, errors
        for refunded_at, refund_id, order_id, cents, row_no, col in batch:
            if dry_run:
                done += 1
                continue
            try:
                refunded = refund_record(
                    order_id=order_id,
                    refund_id=refund_id,
                    amount=dec(cents),
                    actor=actor,
                    refunded_at=staging.from_utc_text(refunded_at),
                )
                done += int(refunded.created)
            except ServiceError as exc:
                errors.append(
                    (row_no, col, refund_id, exc.code, f"row {row_no}: {exc.message}", order_id)
                )
        after = (batch[-1][0], batch[-1][1])


# The members this file names: its customers, and the owners of recorded orders it refunds.
IMPORTED_MEMBERS = (
    "SELECT m.id FROM members_member m WHERE m.external_id IN "
    "(SELECT ckey FROM imp_orders WHERE bad <> 1) "
    "UNION SELECT l.member_id FROM loyalty_order l WHERE l.order_id IN "
    "(SELECT order_id FROM imp_refunds WHERE target = 'db' AND bad = 0)"
)


def _tiers_evaluate(actor: Actor, progress: Progress) -> int:
    """Every member this file names, evaluated as of now; history entries say `import`.

    The tier rules live in `loyalty.services.tiers`: one set-based evaluation of just these
    members (`tier_evaluate_all(member_ids_sql=...)`, one transaction). No `tier.changed`
    events: the import's one event is its `import.completed` summary (`docs/events.md`).
    """
    if not tier_ladder():
        return 0
    changes = tiers.tier_evaluate_all(
        actor=actor, kind=TierChange.Kind.IMPORT, member_ids_sql=IMPORTED_MEMBERS, events=False
    )
    progress("tiers", 1, 1)
    return changes


def _collect_errors(result: ImportResult, errors_path, on_errors=None) -> None:
    result.error_count = scalar("SELECT COUNT(*) FROM imp_errors") or 0
    result.rows_rejected = scalar("SELECT COUNT(DISTINCT row_no) FROM imp_errors") or 0
    if not result.error_count:
        return
    query = "SELECT row_no, col, value, code, message FROM imp_errors ORDER BY row_no, seq"
    result.errors = rows(query + f" LIMIT {SHOWN_ERRORS}")
    if errors_path:
        with open(errors_path, "w", newline="", encoding="utf-8") as handle:
            out = csv.writer(handle)
            out.writerow(ERROR_REPORT_COLUMNS)
            for row in staging.fetch_iter(query):
                out.writerow([row[0], *(_escape(v) for v in row[1:])])
        result.error_report = str(errors_path)
    if on_errors is not None:
        on_errors(staging.fetch_iter(query))


def _late_errors(result: ImportResult, errors: list[tuple], errors_path) -> None:
    """Problems met while writing (live traffic got there first): reported like the others."""
    stage = StageBuffer()
    for row, column, value, code, message, order_id in errors:
        stage.error(row, column, str(value), code, message, order_id)
    stage.flush()
    _collect_errors(result, errors_path)
