"""`python manage.py import_orders FILE [--format auto|orders|lines|shopify] [--profile NAME]
[--dry-run] [--skip-invalid] [--errors OUT.csv] [--exclusive] [--split N]`: import a shop's
historical orders.

`--split N` defers N jobs on the `imports` queue, one per part of the file's customers
(`loyalty.importing.parts`), waits for them (any number of `make worker` processes run them; on
SQLite they run in this process), and prints the parts' summed figures.

A thin caller of `loyalty.importing.pipeline.import_orders` (the admin uses the same). Shows a
progress bar on a terminal, ends with the summary, and exits non-zero (without a traceback) when
the file is refused or has bad rows. See docs/import.md.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

import jobs
from config.errors import ServiceError
from loyalty.importing.pipeline import ImportResult, import_orders
from loyalty.importing.profiles import FORMATS
from members.actors import Actor

SHOWN_ON_A_REAL_RUN = 20
PHASES = {"read": ("reading", "B"), "write": ("writing", "chunk"), "tiers": ("tiers", "member")}


def default_report_path(file: Path) -> Path:
    """Next to the file if that folder is writable, else in var/imports/."""
    beside = file.with_name(file.name + ".errors.csv")
    if os.access(beside.parent, os.W_OK) and (not beside.exists() or os.access(beside, os.W_OK)):
        return beside
    else:
        folder = Path(settings.BASE_DIR) / "var" / "imports"
        folder.mkdir(parents=True, exist_ok=True)
        return folder / (file.name + ".errors.csv")


class Command(BaseCommand):
    help = "Import historical orders (members, orders, points, refunds, tiers) from a CSV file."

    def add_arguments(self, parser):
        parser.add_argument("file", help="The CSV file (UTF-8; comma, semicolon or tab).")
        parser.add_argument("--format", default="auto", choices=FORMATS)
        parser.add_argument("--profile", help="A column-mapping profile (built-in or admin).")
        parser.add_argument(
            "--dry-run", action="store_true", help="Check everything, list bad rows, write nothing."
        )
        parser.add_argument(
            "--skip-invalid",
            action="store_true",
            help="Import the good rows even if some are bad (the bad ones go to the report).",
        )
        parser.add_argument(
            "--errors", metavar="OUT.csv", help="Where to write the error report (CSV)."
        )
        parser.add_argument("--user", help="Record the import as done by this staff user.")
        parser.add_argument(
            "--exclusive",
            action="store_true",
            help="Lock the ledger for the whole import and write it in one transaction, its "
            "indexes built once at the end: fastest, for a first import before launch (the "
            "storefront and the admin wait meanwhile).",
        )
        parser.add_argument(
            "--split",
            type=int,
            default=1,
            metavar="N",
            help="Split the file's customers into N jobs on the imports queue, run by the "
            "workers side by side (the file must be readable by every worker); waits for them.",
        )
        parser.add_argument("--no-progress", action="store_true", help="No progress bar.")
        parser.add_argument("--chunk-size", type=int, default=10_000, help=_hidden())

    def handle(self, *args, **options):
        self.verbosity = options["verbosity"]
        file = Path(options["file"])
        if not file.is_file():
            raise CommandError(f"{file}: no such file.")
        actor = self._actor(options.get("user"))
        if options["split"] != 1:
            return self._split(file, actor, options)
        bars: dict[str, object] = {}
        progress = None
        if not options["no_progress"] and sys.stderr.isatty():
            progress = self._progress(bars)
        errors_path = Path(options["errors"]) if options["errors"] else None
        listed = []

        def list_errors(rows):
            # A dry run lists every bad row; a real run shows the first few (all are in the report).
            limit = None if options["dry_run"] else SHOWN_ON_A_REAL_RUN
            for n, (_row, _column, _value, code, message) in enumerate(rows):
                if limit is not None and n >= limit:
                    listed.append("...")
                    break
                listed.append(f"  {message} [{code}]")

        try:
            result = self._import(file, actor, options, errors_path, progress, list_errors)
        except ServiceError as exc:  # refused before it started (the file is being imported)
            raise CommandError(exc.message) from None
        finally:
            for bar in bars.values():
                bar.close()
        if listed:
            self.stdout.write("Rows with errors:")
            for line in listed:
                self.stdout.write(line)
        self._summary(result)
        if not result.ok:
            raise CommandError(result.message or f"Import {result.status}.")

    def _import(self, file, actor, options, errors_path, progress, list_errors) -> ImportResult:
        return import_orders(
            path=file,
            actor=actor,
            fmt=options["format"],
            profile_name=options.get("profile"),
            dry_run=options["dry_run"],
            skip_invalid=options["skip_invalid"],
            errors_path=errors_path or default_report_path(file),
            progress=progress,
            chunk_orders=options["chunk_size"],
            on_errors=list_errors,
            exclusive=options["exclusive"],
        )

    def _split(self, file: Path, actor: Actor, options: dict) -> None:
        from loyalty.importing.parts import import_split, split_results

        if options["dry_run"] or options["exclusive"]:
            raise CommandError("--split cannot be combined with --dry-run or --exclusive.")
        started = timezone.now()
        try:
            import_split(
                path=file,
                parts=options["split"],
                user_id=actor.user_id,
                fmt=options["format"],
                profile=options.get("profile") or "",
                skip_invalid=options["skip_invalid"],
            )
        except ServiceError as exc:
            raise CommandError(exc.message) from None
        # Inline (SQLite), the parts ran when `import_split` committed; else the workers run them.
        runs = split_results(
            path=file, parts=options["split"], since=started, wait=not jobs.runs_inline()
        )
        self.stdout.write(
            f"Split import of {file.name} in {len(runs)} parts: "
            + ", ".join(f"part {r.part} {r.status}" for r in runs)
        )
        figures = ("orders_created", "orders_present", "refunds_created", "members_created")
        for name in (*figures, "points_posted", "rows_rejected"):
            total = sum(getattr(r, name) for r in runs)
            self.stdout.write(f"  {name.replace('_', ' '):<28}{total:>12,}")
        seconds = (max(r.finished_at for r in runs) - started).total_seconds()
        created = sum(r.orders_created for r in runs)
        self.stdout.write(f"  rate: {created / max(seconds, 0.001):,.0f} orders/s ({seconds:.1f}s)")
        if any(r.status not in ("succeeded", "partial") for r in runs):
            raise CommandError("Some parts did not succeed: see the import runs in the admin.")

    def _actor(self, username: str | None) -> Actor:
        if not username:
            return Actor.system("import_orders")
        user = get_user_model().objects.filter(username=username, is_staff=True).first()
        if user is None:
            raise CommandError(f"--user: no staff user named {username!r}.")
        return Actor.staff(user)

    def _progress(self, bars: dict):
        from tqdm import tqdm

        def progress(phase: str, done: int, total: int) -> None:
            if phase not in PHASES:
                return
            bar = bars.get(phase)
            if bar is None:
                for other in bars.values():
                    other.close()
                desc, unit = PHASES[phase]
                bar = bars[phase] = tqdm(
                    total=total, desc=desc, unit=unit, unit_scale=unit == "B", file=sys.stderr
                )
            bar.total = total
            bar.n = done
            bar.refresh()

        return progress

    def _summary(self, r: ImportResult) -> None:
        would = "would be " if r.dry_run else ""
        figures = [
            ("rows read", r.rows_read),
            (f"orders {would}created", r.orders_created),
            ("orders already present", r.orders_present),
            (f"refunds {would}recorded", r.refunds_created),
            (f"members {would}created", r.members_created),
            (f"points {would}posted", r.points_posted),
            ("rows rejected", r.rows_rejected),
        ]
        if r.guest_rows:  # rows without a customer: guest orders (docs/import.md, "Guests")
            figures += [
                (f"guest orders {would}created", r.guest_orders_created),
                ("guest orders already present", r.guest_orders_present),
            ]
        lines = [
            f"{'Dry run of' if r.dry_run else 'Import of'} {r.run.file_name} "
            f"(format {r.format or '?'}{', profile ' + r.profile if r.profile else ''}"
            f"{', ' + r.delimiter + '-delimited' if r.delimiter else ''}): {r.status}"
            f" in {r.seconds:.1f}s",
            *(f"  {label:<28}{value:>12,}" for label, value in figures),
        ]
        if r.error_report:
            lines.append(f"  error report: {r.error_report}")
        skipped = [
            (r.guest_rows_skipped, "guest rows (guests' returns, or in a customer's order)"),
            (r.not_earning, "voided or pending orders (earn nothing)"),
            (r.returns_before_history, "returns of goods bought before the imported history"),
            (r.duplicate_rows, "repeated rows (same order, same content)"),
        ]
        for count, label in skipped:
            if count:
                lines.append(f"  skipped: {count:,} {label}")
        if r.float_amounts:
            lines.append(
                f"  {r.float_amounts:,} amounts written as binary floats were read as cents"
            )
        if r.points_earned or r.points_reversed or r.points_expired:
            lines.append(
                f"  points: {r.points_earned:,} earned, {r.points_reversed:,} reversed by refunds, "
                f"{r.points_expired:,} expired"
            )
        if r.tier_changes:
            lines.append(f"  tier changes (import): {r.tier_changes:,}")
        if r.seconds and r.orders_created:
            lines.append(f"  rate: {r.orders_created / r.seconds:,.0f} orders/s")
        if r.message:
            lines.append(r.message)
        if self.verbosity >= 2 and r.phases:
            lines.append("  phases: " + ", ".join(f"{k} {v:.2f}s" for k, v in r.phases.items()))
        for line in lines:
            self.stdout.write(line)


def _hidden():
    import argparse

    return argparse.SUPPRESS
