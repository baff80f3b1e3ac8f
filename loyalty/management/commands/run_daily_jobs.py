"""`python manage.py run_daily_jobs [--as-of YYYY-MM-DD] [--full-tiers]`: the once-a-day work.

Matures pending points, expires lapsed lots, evaluates tiers and runs the other apps' daily steps.
Safe to run twice (the second run changes nothing) and on two machines at once.
"""

import datetime as dt
import sys

from django.core.management.base import BaseCommand, CommandError

from loyalty.services.jobs import daily_jobs_run


class Command(BaseCommand):
    help = "Mature pending points, expire lapsed lots, evaluate tiers, run the daily steps."

    def add_arguments(self, parser):
        parser.add_argument(
            "--as-of", help="Process everything due up to the end of this date (YYYY-MM-DD)."
        )
        parser.add_argument("--no-progress", action="store_true", help="No progress bar.")
        parser.add_argument(
            "--full-tiers",
            action="store_true",
            help="Evaluate every member's tier, not only those whose status can have changed.",
        )

    def handle(self, *args, as_of=None, no_progress=False, full_tiers=False, **options):
        date = None
        if as_of:
            try:
                date = dt.date.fromisoformat(as_of)
            except ValueError:
                raise CommandError(f"--as-of: {as_of!r} is not a date (YYYY-MM-DD)") from None
        bar = None
        progress = None
        if not no_progress and sys.stderr.isatty():
            from tqdm import tqdm

            bar = tqdm(desc="members", unit="member", file=sys.stderr)

            def progress(done, total):
                bar.total = total
                bar.n = done
                bar.refresh()

        report = daily_jobs_run(as_of=date, progress=progress, full_tiers=full_tiers)
        if bar:
            bar.close()
        steps = ", ".join(f"{name}: {count}" for name, count in report.steps.items())
        self.stdout.write(
            f"Daily jobs as of {report.as_of}: {report.members} members, "
            f"{report.matured_lots} lots matured, {report.expired_lots} lots expired"
            + (f"; {steps}" if steps else "")
        )
