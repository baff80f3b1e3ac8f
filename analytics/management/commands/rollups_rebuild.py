"""Rebuild every daily rollup from the ledger, the orders and the members (`--incremental`:
refresh only what changed since the last refresh, as the daily job does)."""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand

from analytics.services.refresh import rollups_rebuild, rollups_refresh


class Command(BaseCommand):
    help = "Rebuild the dashboard's daily rollups from the source tables."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--incremental",
            action="store_true",
            help="Refresh only the days touched since the last refresh.",
        )

    def handle(self, *args, incremental: bool = False, **options) -> None:
        started = time.monotonic()
        days = rollups_refresh() if incremental else rollups_rebuild()
        took = time.monotonic() - started
        self.stdout.write(f"{days} days refreshed in {took:.1f} s")
