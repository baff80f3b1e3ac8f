"""The reads of the order path (`POST /api/v1/orders`), compiled to SQL once per process.

The reads themselves go to the database on every call (see `config.prepared`). On top of them,
`config_cached` keeps the program settings, the tier ladder and "no campaign can apply" per
process, valid for one **configuration version**: a value the database keeps in one row
(`loyalty_config_version`) and sets afresh, by triggers, whenever the settings, a tier, or which
campaigns are active multipliers / first-order campaigns change (whoever writes them, a
`QuerySet.update` or a TRUNCATE included; `loyalty.config_version`). The order path
reads that version inside its account-lock statement (`account_lock_versioned`, no extra round
trip) and reuses what it cached under the same version; a change therefore applies to the very next
order, as without the cache. What is cached is loaded after the version was read, so it is never
older than the version it is filed under (at worst newer: reloaded on the next order).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import connection

from config.prepared import ModelColumns, PreparedQuery, hot_cursor
from loyalty.config_version import TABLE
from loyalty.models import MemberTier, ProgramSettings, Tier, TierChange

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


_tier_state_sql: dict[str, tuple] = {}


def member_tier_state_read(*, member_id: int, after) -> tuple[MemberTier | None, bool, int | None]:
    """The member's tier state row (None: entry tier, no override) and the first tier change
    after `after` (the history, `tierchange_member_at_idx`): (row, is there one, its
    `from_tier_id`), in one round trip. What the order path needs to know which tier an order
    placed at `after` earns at (`loyalty.services.tiers.tier_order_state`)."""
    compiled = _tier_state_sql.get(connection.vendor)
    if compiled is None:
        qn = connection.ops.quote_name
        columns = ModelColumns(MemberTier, "mt", connection)
        change = qn(TierChange._meta.db_table)
        member_col = qn(TierChange._meta.get_field("member").column)
        at_col = qn(TierChange._meta.get_field("at").column)
        later = (
            f"FROM {change} WHERE {member_col} = %s AND {at_col} > %s "
            f"ORDER BY {at_col}, {qn('id')} LIMIT 1"
        )
        sql = (
            f"SELECT {columns.sql}, (SELECT {qn('id')} {later}), "
            f"(SELECT {qn(TierChange._meta.get_field('from_tier').column)} {later}) "
            f"FROM (SELECT 1 AS {qn('one')}) {qn('one')} "
            f"LEFT JOIN {qn(MemberTier._meta.db_table)} {qn('mt')} "
            f"ON {qn('mt')}.{qn(MemberTier._meta.get_field('member').column)} = %s"
        )
        compiled = _tier_state_sql[connection.vendor] = (sql, columns)
    sql, columns = compiled
    member_id = int(member_id)
    after = connection.ops.adapt_datetimefield_value(after)
    with hot_cursor(connection) as cursor:
        cursor.execute(sql, [member_id, after, member_id, after, member_id])
        row = cursor.fetchone()
    state = columns.instance(row[: columns.width], connection=connection)
    later_id, later_from = row[columns.width], row[columns.width + 1]
    return state, later_id is not None, later_from


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


CONFIG_VERSION_TABLE = TABLE  # `loyalty.config_version`
# connection alias -> (version, {key: value}); only ever replaced whole, so threads sharing the
# process at worst load the same thing twice.
_config_cache: dict[str, tuple[int, dict[str, Any]]] = {}


def config_versioned_supported(conn) -> bool:
    """Whether the database keeps a configuration version (migration `0013_config_version`)."""
    return conn.vendor in ("postgresql", "sqlite")


def config_version_read() -> int | None:
    """The configuration version now (None: none kept, cache nothing)."""
    if not config_versioned_supported(connection):
        return None
    qn = connection.ops.quote_name
    with hot_cursor(connection) as cursor:
        cursor.execute(f"SELECT {qn('version')} FROM {qn(CONFIG_VERSION_TABLE)} WHERE id = 1", [])
        row = cursor.fetchone()
    return None if row is None else row[0]


def config_cached(version: int | None, key: str, load: Callable[[], Any]) -> Any:
    """`load()`, or what it returned last in this process under the same configuration version.

    `version` must have been read before `load()` runs (`account_lock_versioned`); None: no
    version known, `load()` every time. What `load` returns is shared by later calls: never
    modify it.
    """
    if version is None:
        return load()
    values = _config_values(version)
    if key not in values:
        values[key] = load()
    return values[key]


def config_cached_get(version: int | None, key: str) -> Any:
    """What was cached under `key` for this configuration version (`config_cached`), or None."""
    return None if version is None else _config_values(version).get(key)


def config_cached_latest() -> tuple[int, dict[str, Any]] | None:
    """(version, what is cached under it) as this process last saw it, or None: for a path that
    checks the version in the statement that depends on it (`order_record`'s one statement),
    so a stale guess costs a retry, never a wrong write. Never modify what it returns."""
    return _config_cache.get(connection.alias)


def _config_values(version: int) -> dict[str, Any]:
    entry = _config_cache.get(connection.alias)
    if entry is None or entry[0] != version:
        entry = (version, {})
        _config_cache[connection.alias] = entry
    return entry[1]


PROGRAM_CONFIG_KEY = "loyalty.program_config"


def program_config_cached(*, version: int | None) -> tuple[ProgramSettings, list[Tier]]:
    """`program_config_read()`, cached under the configuration version (see `config_cached`)."""
    settings_obj, ladder = config_cached(version, PROGRAM_CONFIG_KEY, program_config_read)
    return settings_obj, list(ladder)
