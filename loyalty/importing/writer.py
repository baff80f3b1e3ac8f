"""Write checked, staged orders: members, orders, postings, lots, refunds, expiry, balances.

A chunk is a range of customers (whole customers only, so a member's history is written at once)
and one transaction: a kill loses at most the chunk in flight, which the next run writes again.

What each order earns, reverses and has left was computed while staging, with the ledger's own
rule functions (`earning.py`). Writing is set-based: a handful of `INSERT ... SELECT` statements
per chunk copy the staged numbers into the ledger's tables. On PostgreSQL the rows' keys are first
drawn from the tables' sequences into the staged rows, so that every statement reads staged rows
only (`_postgres_sql`); on SQLite (one writer at a time) the statements join what they just wrote.
Inside a chunk, in this order:
1. the accounts of members who already exist are locked, in member-id order (`accounts_lock`,
   the ledger's lock, taken first), so live orders, spends and jobs for them wait; an order the
   storefront recorded since the checks is found again and left out;
2. members the ledger does not know are created (`external_id` is unique: never twice);
3. orders; their earn and tier-bonus postings; refunds and their reversal postings; the lots,
   with what refunds took from them (the order's own points, as `refund_record` takes first) and
   matured when their availability date has passed; expiry postings for what is left on lots
   whose expiry date has passed; the allocations behind every debit; balances;
4. debts that newly available points can pay are settled (`debts_settle`), as maturing would.
The result is what `order_record`, then `refund_record` (each at the event's own time), then
`daily_jobs_run` today would leave (tests/loyalty/importing/test_equivalence.py compares them
posting by posting).

Imports do not award campaign bonuses and do not call the order listeners (referrals): history is
not a campaign. Orders earn at the multiplier of the tier the member holds when the import starts
(the entry tier for new members); tiers are evaluated once, after the import, as of today.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field

from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from loyalty.importing.earning import Earning
from loyalty.importing.staging import (
    BulkWriter,
    db_datetime,
    execute,
    fetch_iter,
    from_utc_text,
    is_postgres,
    rows,
)
from loyalty.models import Account, Debt, ImportRun
from loyalty.services import tiers
from loyalty.services.ledger import accounts_lock, debts_settle
from members.actors import Actor
from members.models import Member
from members.services import referral_code_generate

CHUNK = (
    "s.ckey >= %(lo)s AND s.ckey <= %(hi)s AND s.bad = 0 AND s.present = 0 "
    "AND s.member_id IS NOT NULL"
)
REFUNDS = (
    "r.target = 'new' AND r.bad = 0 AND r.present = 0 AND r.ckey >= %(lo)s AND r.ckey <= %(hi)s"
)
LEFT = "s.base + s.bonus - s.rev_earn - s.rev_tier"
LOT_REVERSED = "CASE WHEN p.kind = 'earn' THEN s.rev_earn ELSE s.rev_tier END"
ACTOR = (
    "%(actor_kind)s, %(actor_label)s, CAST(%(actor_user_id)s AS BIGINT), "
    "CAST(%(actor_api_key_id)s AS VARCHAR(150))"
)
POSTING_COLUMNS = (
    "actor_kind, actor_label, actor_user_id, actor_api_key_id, member_id, kind, points, "
    "created_at, effective_at, available_at, expires_at, order_id, refund_id, source_type, "
    "source_id, campaign_code, reward_code, reverses_id, idempotency_key, reason, description"
)


def _sql() -> dict[str, str]:
    """The chunk's statements, with the few expressions PostgreSQL and SQLite spell apart."""
    pg = is_postgres()
    money = "CAST({} AS NUMERIC) / 100" if pg else "{} / 100.0"
    numeric = "CAST({} AS NUMERIC)" if pg else "{}"
    json = "CAST({} AS JSONB)" if pg else "{}"
    boolean = "({} = 1)" if pg else "{}"
    m = money.format
    statements = {
        "orders": f"""
            INSERT INTO loyalty_order (order_id, member_id, placed_at, currency, total,
                eligible_total, exchange_rate, eligible_amount, refunded_total, refunded_amount,
                items, channel, points_base, points_tier_bonus, points_campaign, points_reversed,
                tier_code, fingerprint, source, created_at)
            SELECT s.order_id, s.member_id, s.placed_db, s.currency, {m("s.total_cents")},
                {m("s.eligible_cents")}, {numeric.format("s.rate")},
                {m("s.eligible_amount_cents")}, {m("s.refunded_cents")},
                {m("s.refunded_amount_cents")}, {json.format("s.items")}, '', s.base, s.bonus, 0,
                s.rev_earn + s.rev_tier, s.tier_code, s.fingerprint, 'import', %(now)s
            FROM imp_orders s WHERE {CHUNK}
            ORDER BY s.ckey, s.placed_at, s.order_id""",
        "credits": f"""
            INSERT INTO loyalty_posting ({POSTING_COLUMNS})
            SELECT {ACTOR}, s.member_id, c.kind, CASE WHEN c.kind = 'earn' THEN s.base
                    ELSE s.bonus END, %(now)s, s.placed_db, s.available_db, s.expires_db, o.id,
                NULL, 'order', s.order_id, '', '', NULL,
                'order:' || s.order_id || CASE WHEN c.kind = 'earn' THEN ':earn' ELSE ':tier' END,
                '', CASE WHEN c.kind = 'earn' THEN 'Order ' || s.order_id
                    ELSE 'Tier bonus (' || s.tier_code || ' ×' || s.mult_text || ') on order '
                        || s.order_id END
            FROM imp_orders s JOIN loyalty_order o ON o.order_id = s.order_id
            JOIN (SELECT 'earn' AS kind UNION ALL SELECT 'tier_bonus') c
                ON (c.kind = 'earn' AND s.base > 0) OR (c.kind = 'tier_bonus' AND s.bonus > 0)
            WHERE {CHUNK}
            ORDER BY s.ckey, s.placed_at, s.order_id, c.kind""",
        "lots": f"""
            INSERT INTO loyalty_lot (posting_id, member_id, points, remaining, available_at,
                expires_at, matured)
            SELECT p.id, p.member_id, p.points,
                CASE WHEN s.expired = 1 THEN 0 ELSE p.points - {LOT_REVERSED} END,
                p.available_at, p.expires_at, {boolean.format("s.matured")}
            FROM imp_orders s JOIN loyalty_order o ON o.order_id = s.order_id
            JOIN loyalty_posting p ON p.order_id = o.id AND p.kind IN ('earn', 'tier_bonus')
            WHERE {CHUNK}""",
        "refunds": f"""
            INSERT INTO loyalty_refund (refund_id, order_id, amount, refunded_at,
                points_reversed, shortfall, fingerprint, created_at)
            SELECT r.refund_id, o.id, {m("r.amount_cents")}, r.refunded_db, r.points_reversed,
                0, r.fingerprint, %(now)s
            FROM imp_refunds r JOIN imp_orders s ON s.order_id = r.order_id
            JOIN loyalty_order o ON o.order_id = r.order_id
            WHERE {REFUNDS} AND {CHUNK}
            ORDER BY r.refunded_at, r.refund_id""",
        "reversals": f"""
            INSERT INTO loyalty_posting ({POSTING_COLUMNS})
            SELECT {ACTOR}, o.member_id, 'refund_reversal', -r.points_reversed, %(now)s,
                r.refunded_db, NULL, NULL, o.id, f.id, 'refund', r.refund_id, '', '', NULL,
                'refund:' || r.refund_id || ':reversal', '',
                'Refund ' || r.refund_id || ' of order ' || r.order_id
            FROM imp_refunds r JOIN imp_orders s ON s.order_id = r.order_id
            JOIN loyalty_refund f ON f.refund_id = r.refund_id
            JOIN loyalty_order o ON o.id = f.order_id
            WHERE {REFUNDS} AND {CHUNK} AND r.points_reversed > 0
            ORDER BY r.refunded_at, r.refund_id""",
        "reversal_allocations": f"""
            INSERT INTO loyalty_lotallocation (posting_id, lot_id, points)
            SELECT d.id, p.id, CASE WHEN p.kind = 'earn' THEN r.r_earn ELSE r.r_tier END
            FROM imp_refunds r JOIN imp_orders s ON s.order_id = r.order_id
            JOIN loyalty_posting d ON d.idempotency_key = 'refund:' || r.refund_id || ':reversal'
            JOIN loyalty_posting p ON p.order_id = d.order_id
                AND ((p.kind = 'earn' AND r.r_earn > 0) OR (p.kind = 'tier_bonus' AND r.r_tier > 0))
            WHERE {REFUNDS} AND {CHUNK} AND r.points_reversed > 0""",
        "expiries": f"""
            INSERT INTO loyalty_posting ({POSTING_COLUMNS})
            SELECT {ACTOR}, p.member_id, 'expire', -(p.points - {LOT_REVERSED}), %(now)s,
                p.expires_at, NULL, NULL, NULL, NULL, 'expiry', CAST(p.id AS TEXT), '', '', NULL,
                'expire:lot:' || CAST(p.id AS TEXT), 'points lifetime reached',
                CAST(p.points - {LOT_REVERSED} AS TEXT) || ' points expired'
            FROM imp_orders s JOIN loyalty_order o ON o.order_id = s.order_id
            JOIN loyalty_posting p ON p.order_id = o.id AND p.kind IN ('earn', 'tier_bonus')
            WHERE {CHUNK} AND s.expired = 1 AND p.points - {LOT_REVERSED} > 0""",
        "expiry_allocations": f"""
            INSERT INTO loyalty_lotallocation (posting_id, lot_id, points)
            SELECT e.id, p.id, -e.points
            FROM imp_orders s JOIN loyalty_order o ON o.order_id = s.order_id
            JOIN loyalty_posting p ON p.order_id = o.id AND p.kind IN ('earn', 'tier_bonus')
            JOIN loyalty_posting e ON e.idempotency_key = 'expire:lot:' || CAST(p.id AS TEXT)
            WHERE {CHUNK} AND s.expired = 1""",
        "accounts": f"""
            INSERT INTO loyalty_account (member_id, available, pending, lifetime_earned,
                updated_at)
            SELECT s.member_id,
                SUM(CASE WHEN s.matured = 1 AND s.expired = 0 THEN {LEFT} ELSE 0 END),
                SUM(CASE WHEN s.matured = 0 THEN {LEFT} ELSE 0 END),
                SUM(s.base + s.bonus), %(now)s
            FROM imp_orders s WHERE {CHUNK} GROUP BY s.member_id
            ON CONFLICT (member_id) DO UPDATE SET
                available = loyalty_account.available + excluded.available,
                pending = loyalty_account.pending + excluded.pending,
                lifetime_earned = loyalty_account.lifetime_earned + excluded.lifetime_earned,
                updated_at = excluded.updated_at""",
    }
    return _keyed_sql(statements, money=money, boolean=boolean, pg=pg)


def _keyed_sql(statements: dict[str, str], *, money, boolean, pg: bool) -> dict[str, str]:
    """Every row's key is drawn first and kept with the staged row; each INSERT then reads the
    staged rows only (by index), never what was just written: nothing gets slower as the
    ledger's tables grow, and no join depends on the planner guessing the size of what a
    statement produced. PostgreSQL draws the keys from the tables' sequences; SQLite (one writer
    at a time, the chunk's transaction holds the write lock) numbers the rows above the highest
    keys in use (`_sqlite_bases`), four posting keys per order (earn, tier bonus, their expiries).
    `statements` are the chunk's statements that join what they wrote (kept for reference)."""
    m = money.format
    chunk_orders = (
        "imp_orders.ckey >= %(lo)s AND imp_orders.ckey <= %(hi)s AND imp_orders.bad = 0 "
        "AND imp_orders.present = 0 AND imp_orders.member_id IS NOT NULL"
    )
    chunk_refunds = f"""imp_refunds.target = 'new' AND imp_refunds.bad = 0
                AND imp_refunds.present = 0 AND imp_refunds.ckey >= %(lo)s
                AND imp_refunds.ckey <= %(hi)s AND imp_refunds.order_id IN
                (SELECT s.order_id FROM imp_orders s WHERE {CHUNK})"""
    if pg:
        keys, refund_keys = _postgres_keys(chunk_orders, chunk_refunds)
    else:
        keys, refund_keys = _sqlite_keys(chunk_orders, chunk_refunds)
    refunds = f"{REFUNDS} AND {CHUNK}"
    posting = f"INSERT INTO loyalty_posting (id, {POSTING_COLUMNS})"
    credit = """
        SELECT {pid}, {actor}, s.member_id, '{kind}', s.{points}, %(now)s, s.placed_db,
            s.available_db, s.expires_db, s.order_pk, CAST(NULL AS BIGINT), 'order',
            s.order_id, '', '', CAST(NULL AS BIGINT), 'order:' || s.order_id || ':{key}', '',
            {description}
        FROM imp_orders s WHERE {chunk} AND s.{points} > 0"""
    lot = """
        SELECT s.{pid}, s.member_id, s.{points},
            CASE WHEN s.expired = 1 THEN 0 ELSE s.{points} - s.{rev} END, s.available_db,
            s.expires_db, {matured}
        FROM imp_orders s WHERE {chunk} AND s.{points} > 0"""
    expiry = """
        SELECT s.{xpid}, {actor}, s.member_id, 'expire', -(s.{points} - s.{rev}), %(now)s,
            s.expires_db, CAST(NULL AS TIMESTAMPTZ), CAST(NULL AS TIMESTAMPTZ),
            CAST(NULL AS BIGINT), CAST(NULL AS BIGINT), 'expiry', CAST(s.{pid} AS TEXT), '', '',
            CAST(NULL AS BIGINT), 'expire:lot:' || CAST(s.{pid} AS TEXT), 'points lifetime reached',
            CAST(s.{points} - s.{rev} AS TEXT) || ' points expired'
        FROM imp_orders s WHERE {chunk} AND s.{xpid} IS NOT NULL"""
    parts = {"actor": ACTOR, "chunk": CHUNK, "matured": boolean.format("s.matured")}
    earn = {"pid": "s.earn_pid", "kind": "earn", "points": "base", "key": "earn"}
    tier = {"pid": "s.tier_pid", "kind": "tier_bonus", "points": "bonus", "key": "tier"}
    return {
        "keys": keys,
        "refund_keys": refund_keys,
        "orders": statements["orders"]
        .replace("INSERT INTO loyalty_order (order_id,", "INSERT INTO loyalty_order (id, order_id,")
        .replace("SELECT s.order_id, s.member_id,", "SELECT s.order_pk, s.order_id, s.member_id,"),
        "credits": posting
        + credit.format(**parts, **earn, description="'Order ' || s.order_id")
        + " UNION ALL "
        + credit.format(
            **parts,
            **tier,
            description="'Tier bonus (' || s.tier_code || ' ×' || s.mult_text || ') on order ' "
            "|| s.order_id",
        ),
        "lots": "INSERT INTO loyalty_lot (posting_id, member_id, points, remaining, "
        "available_at, expires_at, matured)"
        + lot.format(**parts, pid="earn_pid", points="base", rev="rev_earn")
        + " UNION ALL "
        + lot.format(**parts, pid="tier_pid", points="bonus", rev="rev_tier"),
        "refunds": f"""
            INSERT INTO loyalty_refund (id, refund_id, order_id, amount, refunded_at,
                points_reversed, shortfall, fingerprint, created_at)
            SELECT r.refund_pk, r.refund_id, s.order_pk, {m("r.amount_cents")}, r.refunded_db,
                r.points_reversed, 0, r.fingerprint, %(now)s
            FROM imp_refunds r JOIN imp_orders s ON s.order_id = r.order_id
            WHERE {refunds}""",
        "reversals": f"""
            {posting}
            SELECT r.rev_pid, {ACTOR}, s.member_id, 'refund_reversal', -r.points_reversed,
                %(now)s, r.refunded_db, NULL, NULL, s.order_pk, r.refund_pk, 'refund',
                r.refund_id, '', '', NULL, 'refund:' || r.refund_id || ':reversal', '',
                'Refund ' || r.refund_id || ' of order ' || r.order_id
            FROM imp_refunds r JOIN imp_orders s ON s.order_id = r.order_id
            WHERE {refunds} AND r.rev_pid IS NOT NULL""",
        "reversal_allocations": f"""
            INSERT INTO loyalty_lotallocation (posting_id, lot_id, points)
            SELECT r.rev_pid, s.earn_pid, r.r_earn
            FROM imp_refunds r JOIN imp_orders s ON s.order_id = r.order_id
            WHERE {refunds} AND r.r_earn > 0
            UNION ALL
            SELECT r.rev_pid, s.tier_pid, r.r_tier
            FROM imp_refunds r JOIN imp_orders s ON s.order_id = r.order_id
            WHERE {refunds} AND r.r_tier > 0""",
        "expiries": posting
        + expiry.format(**parts, xpid="earn_xpid", pid="earn_pid", points="base", rev="rev_earn")
        + " UNION ALL "
        + expiry.format(**parts, xpid="tier_xpid", pid="tier_pid", points="bonus", rev="rev_tier"),
        "expiry_allocations": f"""
            INSERT INTO loyalty_lotallocation (posting_id, lot_id, points)
            SELECT s.earn_xpid, s.earn_pid, s.base - s.rev_earn FROM imp_orders s
            WHERE {CHUNK} AND s.earn_xpid IS NOT NULL
            UNION ALL
            SELECT s.tier_xpid, s.tier_pid, s.bonus - s.rev_tier FROM imp_orders s
            WHERE {CHUNK} AND s.tier_xpid IS NOT NULL""",
        "accounts": statements["accounts"],
    }


def _postgres_keys(chunk_orders: str, chunk_refunds: str) -> tuple[str, str]:
    with connection.cursor() as cursor:  # resolved once: a per-row look-up would cost more
        cursor.execute(
            "SELECT pg_get_serial_sequence('loyalty_order', 'id'), "
            "pg_get_serial_sequence('loyalty_posting', 'id'), "
            "pg_get_serial_sequence('loyalty_refund', 'id')"
        )
        names = cursor.fetchone()
    order_seq, posting_seq, refund_seq = (
        "nextval('" + name.replace("'", "''") + "'::regclass)" for name in names
    )
    # Also the member's id (run by `ChunkWriter._chunk` before the chunk's counts).
    keys = f"""
            UPDATE imp_orders SET member_id = m.id, order_pk = {order_seq},
                earn_pid = CASE WHEN base > 0 THEN {posting_seq} END,
                tier_pid = CASE WHEN bonus > 0 THEN {posting_seq} END,
                earn_xpid = CASE WHEN expired = 1 AND base - rev_earn > 0
                    THEN {posting_seq} END,
                tier_xpid = CASE WHEN expired = 1 AND bonus - rev_tier > 0
                    THEN {posting_seq} END
            FROM members_member m
            WHERE m.external_id = imp_orders.ckey AND imp_orders.ckey >= %(lo)s
                AND imp_orders.ckey <= %(hi)s AND imp_orders.bad = 0
                AND imp_orders.present = 0"""
    refund_keys = f"""
            UPDATE imp_refunds SET refund_pk = {refund_seq},
                rev_pid = CASE WHEN points_reversed > 0 THEN {posting_seq} END
            WHERE {chunk_refunds}"""
    return keys, refund_keys


def _sqlite_keys(chunk_orders: str, chunk_refunds: str) -> tuple[str, str]:
    """Keys numbered from `_sqlite_bases` (parameters `order_base`, `posting_base`,
    `refund_base`, `reversal_base`) by the rows' order in the chunk."""
    posting = "%(posting_base)s + 4 * x.n"
    keys = f"""
            UPDATE imp_orders SET order_pk = %(order_base)s + x.n,
                earn_pid = CASE WHEN imp_orders.base > 0 THEN {posting} END,
                tier_pid = CASE WHEN imp_orders.bonus > 0 THEN {posting} + 1 END,
                earn_xpid = CASE WHEN imp_orders.expired = 1
                    AND imp_orders.base - imp_orders.rev_earn > 0 THEN {posting} + 2 END,
                tier_xpid = CASE WHEN imp_orders.expired = 1
                    AND imp_orders.bonus - imp_orders.rev_tier > 0 THEN {posting} + 3 END
            FROM (SELECT rowid AS r, row_number() OVER (ORDER BY ckey, placed_at, order_id) AS n
                FROM imp_orders WHERE {chunk_orders}) AS x
            WHERE imp_orders.rowid = x.r"""
    refund_keys = f"""
            UPDATE imp_refunds SET refund_pk = %(refund_base)s + x.n,
                rev_pid = CASE WHEN imp_refunds.points_reversed > 0
                    THEN %(reversal_base)s + x.n END
            FROM (SELECT rowid AS r, row_number() OVER (ORDER BY refunded_at, refund_id) AS n
                FROM imp_refunds WHERE {chunk_refunds}) AS x
            WHERE imp_refunds.rowid = x.r"""
    return keys, refund_keys


def _sqlite_bases(orders: int) -> dict[str, int]:
    """The highest keys in use (or ever used: AUTOINCREMENT), read inside the chunk's
    transaction, which holds SQLite's write lock: no other writer can take them meanwhile."""
    tops = {}
    with connection.cursor() as cursor:
        for table in ("loyalty_order", "loyalty_posting", "loyalty_refund"):
            cursor.execute(
                f'SELECT MAX(COALESCE((SELECT MAX(id) FROM "{table}"), 0), '
                "COALESCE((SELECT seq FROM sqlite_sequence WHERE name = %s), 0))",
                [table],
            )
            tops[table] = cursor.fetchone()[0]
    posting_base = tops["loyalty_posting"]
    return {
        "order_base": tops["loyalty_order"],
        "posting_base": posting_base,
        "refund_base": tops["loyalty_refund"],
        # Above the four keys of each order (numbered from 1).
        "reversal_base": posting_base + 4 * (orders + 1),
    }


COUNTS = f"""
    SELECT COUNT(*), COALESCE(SUM(s.base + s.bonus), 0), COALESCE(SUM(s.rev_earn + s.rev_tier), 0),
        COALESCE(SUM(CASE WHEN s.expired = 1 THEN {LEFT} ELSE 0 END), 0)
    FROM imp_orders s WHERE {{where}}"""
GOOD_NEW = "s.bad = 0 AND s.present = 0"


@dataclass
class ChunkResult:
    orders_created: int = 0
    orders_present: int = 0
    refunds_created: int = 0
    members_created: int = 0
    points_posted: int = 0
    points_earned: int = 0
    points_reversed: int = 0
    points_expired: int = 0
    # (row, column, value, code, message, order_id): problems found only while writing (races).
    errors: list[tuple] = field(default_factory=list)

    def add(self, other: ChunkResult) -> None:
        for name in (
            "orders_created",
            "orders_present",
            "refunds_created",
            "members_created",
            "points_posted",
            "points_earned",
            "points_reversed",
            "points_expired",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.errors.extend(other.errors)

    def points_from(self, row: tuple) -> None:
        self.orders_created, self.points_earned, self.points_reversed, self.points_expired = row
        self.points_posted = self.points_earned - self.points_reversed - self.points_expired


def dry_run_counts() -> ChunkResult:
    """What writing every good, new staged order would do (a dry run writes nothing)."""
    result = ChunkResult()
    result.points_from(rows(COUNTS.format(where=GOOD_NEW))[0])
    result.refunds_created = rows(
        "SELECT COUNT(*) FROM imp_refunds r WHERE r.target = 'new' AND r.bad = 0 AND r.present = 0"
    )[0][0]
    result.members_created = rows(
        "SELECT COUNT(DISTINCT s.ckey) FROM imp_orders s WHERE s.bad = 0 AND s.present = 0 "
        "AND NOT EXISTS (SELECT 1 FROM members_member m WHERE m.external_id = s.ckey)"
    )[0][0]
    return result


class ChunkWriter:
    def __init__(
        self,
        *,
        run: ImportRun,
        actor: Actor,
        earning: Earning,
        customer_column: str,
    ) -> None:
        self.run = run
        self.actor = actor
        self.earning = earning
        self.now = earning.now
        self.customer_column = customer_column
        self.statements = _sql()
        # Seconds per step, all chunks together (logged at DEBUG level by the pipeline).
        self.timings: dict[str, float] = defaultdict(float)
        self.params = {
            **actor.as_fields(),
            "now": connection.ops.adapt_datetimefield_value(self.now),
        }

    # --- the chunk -----------------------------------------------------------------------------

    def write_chunk(self, lo: str, hi: str) -> ChunkResult:
        for attempt in range(3):
            try:
                with transaction.atomic():
                    result = self._chunk(lo, hi)
                    committing = time.monotonic()
                    ImportRun.objects.filter(pk=self.run.pk).update(
                        orders_created=F("orders_created") + result.orders_created,
                        orders_present=F("orders_present") + result.orders_present,
                        refunds_created=F("refunds_created") + result.refunds_created,
                        members_created=F("members_created") + result.members_created,
                        points_posted=F("points_posted") + result.points_posted,
                        heartbeat_at=timezone.now(),
                    )
                self._lap("commit", committing)
                return result
            except IntegrityError:
                # Something the storefront recorded since the checks (an order, a member): the
                # next attempt finds it and leaves it out.
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _chunk(self, lo: str, hi: str) -> ChunkResult:
        clock = time.monotonic()
        result = ChunkResult()
        params = {**self.params, "lo": lo, "hi": hi}
        self._recorded_meanwhile(params, result)
        existing, erased = self._existing_members(params)
        for ckey in erased:
            self._reject_customer(ckey, params, "member_erased", result)
        if existing:
            accounts_lock(member_ids=sorted(existing.values()))
        clock = self._lap("lock", clock)
        created = self._members_create(params, set(existing) | set(erased))
        result.members_created = len(created)
        clock = self._lap("members", clock)
        if is_postgres():
            # The members' ids are set with the keys (`_postgres_keys`): one pass over the staged
            # rows instead of two.
            for (ckey,) in rows(
                "SELECT DISTINCT s.ckey FROM imp_orders s WHERE s.ckey >= %(lo)s "
                "AND s.ckey <= %(hi)s AND s.bad = 0 AND s.present = 0 AND NOT EXISTS "
                "(SELECT 1 FROM members_member m WHERE m.external_id = s.ckey)",
                params,
            ):
                self._reject_customer(ckey, params, "email_taken", result)
            self._tiers_of_existing(existing, params)
            execute(self.statements["keys"], params)
        else:
            execute(
                "UPDATE imp_orders SET member_id = m.id FROM members_member m "
                "WHERE m.external_id = imp_orders.ckey AND imp_orders.ckey >= %(lo)s "
                "AND imp_orders.ckey <= %(hi)s AND imp_orders.bad = 0 "
                "AND imp_orders.present = 0",
                params,
            )
            for (ckey,) in rows(
                "SELECT DISTINCT ckey FROM imp_orders WHERE ckey >= %(lo)s AND ckey <= %(hi)s "
                "AND bad = 0 AND present = 0 AND member_id IS NULL",
                params,
            ):
                self._reject_customer(ckey, params, "email_taken", result)
            self._tiers_of_existing(existing, params)
        result.points_from(rows(COUNTS.format(where=CHUNK), params)[0])
        result.refunds_created = rows(
            f"SELECT COUNT(*) FROM imp_refunds r JOIN imp_orders s ON s.order_id = r.order_id "
            f"WHERE {REFUNDS} AND {CHUNK}",
            params,
        )[0][0]
        if not is_postgres():
            params.update(_sqlite_bases(result.orders_created))
        clock = self._lap("prepare", clock)
        with connection.cursor() as cursor:
            for name, statement in self.statements.items():
                if statement and not (name == "keys" and is_postgres()):  # done above
                    cursor.execute(statement, params)
                    clock = self._lap(name, clock)
        self._debts_settle(existing)
        self._lap("debts", clock)
        return result

    def _lap(self, step: str, since: float) -> float:
        now = time.monotonic()
        self.timings[step] += now - since
        return now

    # --- what changed since the checks -----------------------------------------------------------

    def _recorded_meanwhile(self, params, result: ChunkResult) -> None:
        """Orders the storefront recorded since the checks: present, or a conflict."""
        for order_id, row, staged, recorded in rows(
            "SELECT s.order_id, s.row_no, s.fingerprint, o.fingerprint FROM imp_orders s "
            "JOIN loyalty_order o ON o.order_id = s.order_id "
            "WHERE s.ckey >= %(lo)s AND s.ckey <= %(hi)s AND s.bad = 0 AND s.present = 0",
            params,
        ):
            if staged == recorded:
                result.orders_present += 1
                execute("UPDATE imp_orders SET present = 1 WHERE order_id = %s", [order_id])
            else:
                result.errors.append(
                    (
                        row,
                        "order_id",
                        order_id,
                        "order_conflict",
                        f"row {row}: order {order_id} was recorded meanwhile with other content",
                        order_id,
                    )
                )
                execute("UPDATE imp_orders SET bad = 1 WHERE order_id = %s", [order_id])

    def _existing_members(self, params) -> tuple[dict[str, int], dict[str, int]]:
        existing, erased = {}, {}
        for ckey, pk, status in rows(
            "SELECT m.external_id, m.id, m.status FROM members_member m WHERE m.external_id IN "
            "(SELECT ckey FROM imp_orders WHERE ckey >= %(lo)s AND ckey <= %(hi)s AND bad = 0 "
            "AND present = 0)",
            params,
        ):
            (erased if status == Member.Status.ERASED else existing)[ckey] = pk
        return existing, erased

    def _reject_customer(self, ckey: str, params, code: str, result: ChunkResult) -> None:
        messages = {
            "member_erased": "this customer's member data has been erased; nothing is recorded",
            "email_taken": "another member already uses this customer's email",
        }
        for row, order_id in rows(
            "SELECT row_no, order_id FROM imp_orders WHERE ckey = %s AND bad = 0 AND present = 0",
            [ckey],
        ):
            result.errors.append(
                (
                    row,
                    self.customer_column,
                    ckey,
                    code,
                    f"row {row}: customer {ckey}: {messages[code]}",
                    order_id,
                )
            )
        execute("UPDATE imp_orders SET bad = 1 WHERE ckey = %s AND bad = 0", [ckey])

    # --- members -------------------------------------------------------------------------------

    def _members_create(self, params, known: set[str]) -> dict[str, int]:
        """Create the chunk's new members (their latest email and name, enrolled at their first
        order); referral-code collisions are retried. Returns external id -> member id."""
        new: dict[str, list] = {}
        for ckey, email, first, last, placed in fetch_iter(
            "SELECT ckey, email, first_name, last_name, placed_at FROM imp_orders "
            "WHERE ckey >= %(lo)s AND ckey <= %(hi)s AND bad = 0 AND present = 0 "
            "ORDER BY ckey, placed_at",
            params,
        ):
            if ckey in known:
                continue
            member = new.get(ckey)
            if member is None:
                new[ckey] = [ckey, email or None, first, last, from_utc_text(placed)]
                continue
            member[1] = email or member[1]
            member[2] = first or member[2]
            member[3] = last or member[3]
        if not new:
            return {}
        writer = BulkWriter(
            "imp_new_members",
            ("external_id", "email", "first_name", "last_name", "enrolled_at", "referral_code"),
        )
        created: dict[str, int] = {}
        pending = list(new.values())
        for _ in range(5):
            execute("DELETE FROM imp_new_members")
            writer.write(
                (ckey, email, first, last, db_datetime(enrolled_at), referral_code_generate())
                for ckey, email, first, last, enrolled_at in pending
            )
            execute(
                "INSERT INTO members_member (external_id, email, first_name, last_name, phone, "
                "birth_date, marketing_consent, status, enrolled_at, referral_code, "
                "referred_by_id, erased_at, created_at, updated_at) "
                "SELECT n.external_id, n.email, n.first_name, n.last_name, '', NULL, %(no)s, "
                "'active', n.enrolled_at, n.referral_code, NULL, NULL, %(now)s, %(now)s "
                "FROM imp_new_members n WHERE NOT EXISTS (SELECT 1 FROM members_member m "
                "WHERE m.external_id = n.external_id) ON CONFLICT DO NOTHING",
                {**params, "no": False},
            )
            created.update(
                rows(
                    "SELECT m.external_id, m.id FROM members_member m JOIN imp_new_members n "
                    "ON n.external_id = m.external_id AND n.referral_code = m.referral_code"
                )
            )
            # Left over: a referral code that collided (retried with new codes), an external id
            # enrolled meanwhile (found later by id), or an email taken meanwhile (rejected).
            pending = [p for p in pending if p[0] not in created]
            if pending:
                taken = set(
                    Member.objects.filter(external_id__in=[p[0] for p in pending]).values_list(
                        "external_id", flat=True
                    )
                )
                pending = [p for p in pending if p[0] not in taken]
            if not pending:
                break
        return created

    def _tiers_of_existing(self, existing: dict[str, int], params) -> None:
        """Existing members in another tier than the entry one earn at their own multiplier."""
        entry = (self.earning.tier_code, self.earning.multiplier)
        for ckey, member_id in existing.items():
            tier = tiers.tier_for_order(member_id=member_id)
            if tier == entry:
                continue
            refunds = defaultdict(list)
            for order_id, refund_id, amount in rows(
                "SELECT order_id, refund_id, amount_cents FROM imp_refunds r WHERE r.ckey = %s "
                "AND r.target = 'new' AND r.bad = 0 AND r.present = 0 "
                "ORDER BY r.refunded_at, r.refund_id",
                [ckey],
            ):
                refunds[order_id].append((refund_id, amount))
            for order_id, placed, currency, total, eligible in rows(
                "SELECT order_id, placed_at, currency, total_cents, eligible_cents FROM "
                "imp_orders WHERE ckey = %s AND bad = 0 AND present = 0",
                [ckey],
            ):
                numbers = self.earning.order(
                    placed_at=from_utc_text(placed),
                    currency=currency,
                    eligible_cents=total if eligible is None else eligible,
                    refunds=[amount for _, amount in refunds[order_id]],
                    multiplier=tier[1],
                )
                execute(
                    "UPDATE imp_orders SET bonus = %s, tier_code = %s, mult_text = %s, "
                    "rev_earn = %s, rev_tier = %s WHERE order_id = %s AND ckey = %s",
                    [
                        numbers.bonus,
                        tier[0],
                        str(tier[1]),
                        numbers.rev_earn,
                        numbers.rev_tier,
                        order_id,
                        ckey,
                    ],
                )
                for (refund_id, _), split in zip(refunds[order_id], numbers.refunds, strict=True):
                    execute(
                        "UPDATE imp_refunds SET points_reversed = %s, r_earn = %s, r_tier = %s "
                        "WHERE refund_id = %s",
                        [*split, refund_id],
                    )

    def _debts_settle(self, existing: dict[str, int]) -> None:
        """Newly available points pay off debts first, as the daily job's maturing would."""
        if not existing:
            return
        indebted = sorted(
            set(
                Debt.objects.filter(member_id__in=list(existing.values()), remaining__gt=0)
                .values_list("member_id", flat=True)
                .distinct()
            )
        )
        for account in Account.objects.filter(member_id__in=indebted).order_by("pk"):
            debts_settle(account=account)
