"""`python manage.py audit_campaign_budgets`: every budgeted campaign's stripes against its budget
and its awards (`campaigns.selectors.campaign_budgets_audit`).

Prints every mismatch and exits with status 1 if there is any.
"""

from django.core.management.base import BaseCommand, CommandError

from campaigns.selectors import campaign_budgets_audit


class Command(BaseCommand):
    help = "Check every campaign budget's stripes against the budget and the awards; exit 1 on any."

    def handle(self, *args, **options):
        mismatches = campaign_budgets_audit()
        for line in mismatches:
            self.stderr.write(f"MISMATCH {line}")
        if mismatches:
            raise CommandError(f"{len(mismatches)} mismatch(es) found")
        self.stdout.write("Campaign budgets OK.")
