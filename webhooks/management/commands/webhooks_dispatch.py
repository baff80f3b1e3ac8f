"""`manage.py webhooks_dispatch [--loop]`: fan out new outbox events to webhook endpoints.

One pass reads every committed event after the dispatcher's cursor (in batches), writes their
deliveries and defers their jobs, then defers the jobs of pending deliveries whose retry is due.
`--loop` repeats it every `--every` seconds until interrupted (development on SQLite, where no
worker runs the periodic dispatcher).
"""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand

from webhooks import services


class Command(BaseCommand):
    help = "Fan out new events to webhook endpoints (one pass, or --loop)."

    def add_arguments(self, parser):
        parser.add_argument("--loop", action="store_true", help="Keep dispatching.")
        parser.add_argument("--every", type=float, default=1.0, help="Seconds between passes.")

    def handle(self, *args, loop: bool, every: float, **options):
        while True:
            read = self._pass()
            if read or not loop:
                self.stdout.write(f"{read} events dispatched")
            if not loop:
                return
            time.sleep(every)

    def _pass(self) -> int:
        total, more = 0, True
        while more:
            read, more = services.events_dispatch()
            total += read
        services.deliveries_retry_due()
        return total
