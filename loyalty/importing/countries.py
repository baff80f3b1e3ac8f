"""The members' country from a line file's `Country` column (docs/import.md, "Countries").

Invariants:
- Only a member whose country is unknown ("") gets one, never an erased member: a country the
  storefront or staff set is never overwritten by an old order file.
- The country is the one of the customer's latest order in the file that names a country
  `members.countries` can place; customers whose staged orders were all rejected get none.
- One set-based UPDATE after the orders are written, idempotent: running the import again
  changes nothing (the countries are set by then).
"""

from __future__ import annotations

import datetime as dt

from django.db import connection, transaction

from loyalty.importing.staging import execute
from members.models import Member


def members_country_fill(*, now: dt.datetime) -> int:
    """Set the staged country of every known customer whose country is unknown; how many."""
    table = Member._meta.db_table
    latest = (
        f"SELECT c.country FROM imp_countries c WHERE c.ckey = {table}.external_id "
        "ORDER BY c.placed_at DESC LIMIT 1"
    )
    with transaction.atomic():
        return execute(
            f"UPDATE {table} SET country = ({latest}), updated_at = %s "
            f"WHERE country = '' AND status <> 'erased' "
            f"AND external_id IN (SELECT c.ckey FROM imp_countries c) "
            f"AND external_id IN (SELECT o.ckey FROM imp_orders o WHERE o.bad = 0)",
            [connection.ops.adapt_datetimefield_value(now)],
        )
