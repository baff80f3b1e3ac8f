"""`python manage.py refresh_member_statistics [--full]`: rebuild every member's statistics and
RFM scores now (the daily job's step does the same each night); `--full` also relists every
category and SKU bought from all the orders (otherwise only orders since the last run)."""

from django.core.management.base import BaseCommand

from segments.services.stats import stats_refresh


class Command(BaseCommand):
    help = "Rebuild member statistics and RFM scores (set-based); --full relists products too."

    def add_arguments(self, parser):
        parser.add_argument("--full", action="store_true", help="Relist all products bought.")

    def handle(self, *args, full=False, **options):
        report = stats_refresh(full=full)
        self.stdout.write(
            f"Refreshed {report.members} members in {report.seconds:.2f} s: "
            f"{report.products} products listed, {report.group_changes} RFM group changes."
        )
