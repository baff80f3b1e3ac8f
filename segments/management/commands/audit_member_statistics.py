"""`python manage.py audit_member_statistics`: recompute the member statistics, RFM scores and
products bought from the orders; print every mismatch and exit 1 if there is any."""

from django.core.management.base import BaseCommand, CommandError

from segments.selectors.audit import member_statistics_audit


class Command(BaseCommand):
    help = "Recompute member statistics from the orders; exit 1 on any mismatch."

    def handle(self, *args, **options):
        report = member_statistics_audit()
        for line in report.mismatches:
            self.stderr.write(f"MISMATCH {line}")
        self.stdout.write(
            f"Audited the statistics of {report.members} members "
            f"({report.stale} changed since the last refresh, not compared)."
        )
        if report.mismatches:
            raise CommandError(f"{len(report.mismatches)} mismatch(es) found")
        self.stdout.write("Statistics OK.")
