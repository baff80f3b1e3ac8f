"""The reads of the order path (`POST /api/v1/orders`), compiled to SQL once per process.

Each reads the database afresh on every call (see `config.prepared`): nothing here is cached but
the SQL text, so a change to the settings or the tiers is seen by the very next order.
"""

from __future__ import annotations

from django.db import connection

from config.prepared import ModelColumns, PreparedQuery, hot_cursor
from loyalty.models import MemberTier, ProgramSettings, Tier

_settings = PreparedQuery(lambda: ProgramSettings.objects.filter(pk=1))
_ladder = PreparedQuery(lambda: Tier.objects.order_by("rank"))
_member_tier = PreparedQuery(
    lambda member_id: MemberTier.objects.filter(member_id=member_id), member_id=int
)


def program_settings_read() -> ProgramSettings:
    """`loyalty.selectors.program.program_settings()`, without building the query each time."""
    settings_obj = _settings.first()
    if settings_obj is None:
        from loyalty.selectors.program import program_settings

        settings_obj = program_settings()  # creates the record with its defaults
    return settings_obj


def tier_ladder_read() -> list[Tier]:
    """All tiers, entry tier (rank 0) first: `loyalty.selectors.tiers.tier_ladder()`."""
    return _ladder()


def member_tier_read(*, member_id: int) -> MemberTier | None:
    """The member's tier state row, if any (none: the entry tier, no override)."""
    return _member_tier.first(member_id=member_id)


_config_read: dict[str, tuple] = {}


def program_config_read() -> tuple[ProgramSettings, list[Tier]]:
    """The program settings and the tier ladder (entry tier first), in one round trip.

    The same rows as `program_settings_read()` and `tier_ladder_read()` (the settings record is
    created with its defaults if missing): one statement joining the settings row to every tier.
    """
    compiled = _config_read.get(connection.vendor)
    if compiled is None:
        qn = connection.ops.quote_name
        settings_cols = ModelColumns(ProgramSettings, "s", connection)
        tier_cols = ModelColumns(Tier, "t", connection)
        sql = (
            f"SELECT {settings_cols.sql}, {tier_cols.sql} "
            f"FROM {qn(ProgramSettings._meta.db_table)} {qn('s')} "
            f"LEFT JOIN {qn(Tier._meta.db_table)} {qn('t')} ON 1 = 1 "
            f"WHERE {qn('s')}.{qn(ProgramSettings._meta.pk.column)} = 1 "
            f"ORDER BY {qn('t')}.{qn(Tier._meta.get_field('rank').column)}"
        )
        compiled = _config_read[connection.vendor] = (sql, settings_cols, tier_cols)
    sql, settings_cols, tier_cols = compiled
    with hot_cursor(connection) as cursor:
        cursor.execute(sql, [])
        rows = cursor.fetchall()
    if not rows:  # no settings record yet
        return program_settings_read(), tier_ladder_read()
    width = settings_cols.width
    settings_obj = settings_cols.instance(rows[0][:width], connection=connection)
    ladder = [tier_cols.instance(row[width:], connection=connection) for row in rows]
    return settings_obj, [tier for tier in ladder if tier is not None]
