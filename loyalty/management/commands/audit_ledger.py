"""`python manage.py audit_ledger`: recompute balances, lots and order sums from the postings.

Prints every mismatch and exits with status 1 if there is any; prints the outstanding points and
their liability in money either way.
"""

from django.core.management.base import BaseCommand, CommandError

from loyalty.selectors.audit import ledger_audit


class Command(BaseCommand):
    help = "Recompute the ledger's caches from the postings; exit 1 on any mismatch."

    def handle(self, *args, **options):
        report = ledger_audit()
        for line in report.mismatches:
            self.stderr.write(f"MISMATCH {line}")
        self.stdout.write(
            f"Audited {report.postings} postings of {report.members} accounts: "
            f"{report.outstanding_points} points outstanding, liability "
            f"{report.liability} {report.currency}."
        )
        if report.mismatches:
            raise CommandError(f"{len(report.mismatches)} mismatch(es) found")
        self.stdout.write("Ledger OK.")
