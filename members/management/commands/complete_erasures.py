"""`python manage.py complete_erasures`: forget the members erased before erasure forgot
everywhere (run once after upgrading; harmless to run again).

Each erased member is completed in its own short transaction (`member_erasure_complete`): their
former values, still in the audit trail, are scrubbed wherever `member_erase` scrubs today, and an
email-shaped external id is replaced by its pseudonym. Prints how many members changed.
"""

from django.core.management.base import BaseCommand

from members.actors import Actor
from members.models import Member
from members.services import member_erasure_complete

BATCH = 500


class Command(BaseCommand):
    help = "Scrub every erased member's former personal data everywhere (docs/privacy.md)."

    def handle(self, *args, **options):
        actor = Actor.system("complete_erasures")
        changed = checked = 0
        last_pk = 0
        while True:
            batch = list(
                Member.objects.filter(status=Member.Status.ERASED, pk__gt=last_pk)
                .order_by("pk")
                .only("pk", "status")[:BATCH]
            )
            if not batch:
                break
            for member in batch:
                counts = member_erasure_complete(member=member, actor=actor)
                changed += any(counts.values())
                checked += 1
            last_pk = batch[-1].pk
        self.stdout.write(f"{checked} erased members checked, {changed} completed.")
