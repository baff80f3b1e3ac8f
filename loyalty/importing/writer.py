"""Write checked, staged orders: members, orders, postings, lots, refunds, expiry, balances.

A chunk is a range of customers (whole customers only, so a member's history is written at once)
and one transaction: a kill loses at most the chunk in flight, which the next run writes again.

What each order earns, reverses and has left was computed while staging, with the ledger's own
rule functions (`earning.py`). Writing is set-based: a handful of `INSERT ... SELECT` statements
per chunk copy the staged numbers into the ledger's tables. The chunk's orders are first copied
into `imp_chunk` with their members' ids and the keys of every row the chunk writes (drawn from
the tables' sequences on PostgreSQL, numbered above the highest in use on SQLite), so that every
statement reads that table only, never what was just written (`_sql`).
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
not a campaign. Orders earn at the multiplier of the tier the member held when each was placed (the
tier history of members who exist; the entry tier for new members); tiers are evaluated once,
after the import, as of today.
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
    execute,
    from_utc_text,
    is_postgres,
    rows,
)
from loyalty.models import Account, Debt, ImportRun, TierChange
from loyalty.services import tiers
from loyalty.services.ledger import accounts_lock, debts_settle
from members.actors import Actor
from members.models import Member
from members.services import referral_codes_generate

# The chunk's good, new orders (staged rows of customers lo..hi). Their member ids and the keys
# of every row the chunk writes are filled into `imp_chunk` (`_chunk_fill`), which each INSERT
# then reads whole.
CHUNK_ORDERS = "s.ckey >= %(lo)s AND s.ckey <= %(hi)s AND s.bad = 0 AND s.present = 0"


def _among(column: str, keys: str) -> str:
    """`column` is one of the values `keys` (a one-column SELECT). On PostgreSQL as `= ANY(ARRAY(
    ...))`, which it answers by probing `column`'s index with the chunk's keys: written as a join
    or `IN`, its planner hashes the whole ledger table instead (it takes the chunk's range of
    staged rows for more customers than it holds), once per chunk, and an import's chunks then
    cost more the bigger the ledger grows (1,000,000 orders: 24 s for the chunks' look-ups, not
    the 3.6 s that ten times 100,000 would take; 1.3 s since)."""
    return f"{column} = ANY(ARRAY({keys}))" if is_postgres() else f"{column} IN ({keys})"


CHUNK_CUSTOMERS = f"SELECT DISTINCT s.ckey FROM imp_orders s WHERE {CHUNK_ORDERS}"
CHUNK_ORDER_IDS = f"SELECT s.order_id FROM imp_orders s WHERE {CHUNK_ORDERS}"
REFUNDS = (
    "r.target = 'new' AND r.bad = 0 AND r.present = 0 AND r.ckey >= %(lo)s AND r.ckey <= %(hi)s"
)
LEFT = "s.base + s.bonus - s.rev_earn - s.rev_tier"
ACTOR = (
    "%(actor_kind)s, %(actor_label)s, CAST(%(actor_user_id)s AS BIGINT), "
    "CAST(%(actor_api_key_id)s AS VARCHAR(150))"
)
POSTING_COLUMNS = (
    "actor_kind, actor_label, actor_user_id, actor_api_key_id, member_id, kind, points, "
    "created_at, effective_at, available_at, expires_at, order_id, refund_id, source_type, "
    "source_id, campaign_code, reward_code, reverses_id, idempotency_key, reason, description"
)
# The staged columns `imp_chunk` copies from `imp_orders` (its other columns: the member's id and
# the keys).
CHUNK_COPIED = (
    "order_id, ckey, currency, total_cents, eligible_cents, items, fingerprint, placed_db, "
    "available_db, expires_db, matured, expired, rate, eligible_amount_cents, refunded_cents, "
    "refunded_amount_cents, base, bonus, tier_code, mult_text, rev_earn, rev_tier"
)
CHUNK_KEYS = "member_id, order_pk, earn_pid, tier_pid, earn_xpid, tier_xpid"


def _sql() -> dict[str, str]:
    """The chunk's statements, with the few expressions PostgreSQL and SQLite spell apart.

    Every row's key is drawn first, when the chunk's orders are copied into `imp_chunk` with
    their members' ids (`fill`); each INSERT then reads `imp_chunk` (the chunk's orders only,
    no index needed) and never what was just written: nothing gets slower as the ledger's
    tables grow, and no join depends on the planner guessing the size of what a statement
    produced. PostgreSQL draws the keys from the tables' sequences; SQLite (one writer at a
    time, the chunk's transaction holds the write lock) numbers the rows above the highest keys
    in use (`_sqlite_bases`), four posting keys per order (earn, tier bonus, their expiries).
    Copying the chunk's rows into a table of their own costs a fraction of updating them in
    place in `imp_orders` (wide rows, two indexes): 2.4 s → 0.4 s for 100,000 orders on
    PostgreSQL."""
    pg = is_postgres()
    money = "CAST({} AS NUMERIC) / 100" if pg else "{} / 100.0"
    m = money.format
    numeric = "CAST({} AS NUMERIC)" if pg else "{}"
    json = "CAST({} AS JSONB)" if pg else "{}"
    boolean = "({} = 1)" if pg else "{}"
    fill, refund_keys = _postgres_keys() if pg else _sqlite_keys()
    posting = f"INSERT INTO loyalty_posting (id, {POSTING_COLUMNS})"
    credit = """
        SELECT s.{pid}, {actor}, s.member_id, '{kind}', s.{points}, %(now)s, s.placed_db,
            s.available_db, s.expires_db, s.order_pk, CAST(NULL AS BIGINT), 'order',
            s.order_id, '', '', CAST(NULL AS BIGINT), 'order:' || s.order_id || ':{key}', '',
            {description}
        FROM imp_chunk s WHERE s.{points} > 0"""
    lot = """
        SELECT s.{pid}, s.member_id, s.{points},
            CASE WHEN s.expired = 1 THEN 0 ELSE s.{points} - s.{rev} END, s.available_db,
            s.expires_db, {matured}
        FROM imp_chunk s WHERE s.{points} > 0"""
    expiry = """
        SELECT s.{xpid}, {actor}, s.member_id, 'expire', -(s.{points} - s.{rev}), %(now)s,
            s.expires_db, CAST(NULL AS TIMESTAMPTZ), CAST(NULL AS TIMESTAMPTZ),
            CAST(NULL AS BIGINT), CAST(NULL AS BIGINT), 'expiry', CAST(s.{pid} AS TEXT), '', '',
            CAST(NULL AS BIGINT), 'expire:lot:' || CAST(s.{pid} AS TEXT), 'points lifetime reached',
            CAST(s.{points} - s.{rev} AS TEXT) || ' points expired'
        FROM imp_chunk s WHERE s.{xpid} IS NOT NULL"""
    parts = {"actor": ACTOR, "matured": boolean.format("s.matured")}
    earn = {"pid": "earn_pid", "kind": "earn", "points": "base", "key": "earn"}
    tier = {"pid": "tier_pid", "kind": "tier_bonus", "points": "bonus", "key": "tier"}
    refunds = "imp_refunds r JOIN imp_chunk s ON s.order_id = r.order_id WHERE " + REFUNDS
    return {
        "fill": fill,
        "refund_keys": refund_keys,
        "orders": f"""
            INSERT INTO loyalty_order (id, order_id, member_id, placed_at, currency, total,
                eligible_total, exchange_rate, eligible_amount, refunded_total, refunded_amount,
                items, channel, points_base, points_tier_bonus, points_campaign, points_reversed,
                tier_code, fingerprint, source, created_at)
            SELECT s.order_pk, s.order_id, s.member_id, s.placed_db, s.currency,
                {m("s.total_cents")}, {m("s.eligible_cents")}, {numeric.format("s.rate")},
                {m("s.eligible_amount_cents")}, {m("s.refunded_cents")},
                {m("s.refunded_amount_cents")}, {json.format("s.items")}, '', s.base, s.bonus, 0,
                s.rev_earn + s.rev_tier, s.tier_code, s.fingerprint, 'import', %(now)s
            FROM imp_chunk s ORDER BY s.order_pk""",
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
            FROM {refunds}""",
        "reversals": f"""
            {posting}
            SELECT r.rev_pid, {ACTOR}, s.member_id, 'refund_reversal', -r.points_reversed,
                %(now)s, r.refunded_db, NULL, NULL, s.order_pk, r.refund_pk, 'refund',
                r.refund_id, '', '', NULL, 'refund:' || r.refund_id || ':reversal', '',
                'Refund ' || r.refund_id || ' of order ' || r.order_id
            FROM {refunds} AND r.rev_pid IS NOT NULL""",
        "reversal_allocations": f"""
            INSERT INTO loyalty_lotallocation (posting_id, lot_id, points)
            SELECT r.rev_pid, s.earn_pid, r.r_earn FROM {refunds} AND r.r_earn > 0
            UNION ALL
            SELECT r.rev_pid, s.tier_pid, r.r_tier FROM {refunds} AND r.r_tier > 0""",
        "expiries": posting
        + expiry.format(**parts, xpid="earn_xpid", pid="earn_pid", points="base", rev="rev_earn")
        + " UNION ALL "
        + expiry.format(**parts, xpid="tier_xpid", pid="tier_pid", points="bonus", rev="rev_tier"),
        "expiry_allocations": """
            INSERT INTO loyalty_lotallocation (posting_id, lot_id, points)
            SELECT s.earn_xpid, s.earn_pid, s.base - s.rev_earn FROM imp_chunk s
            WHERE s.earn_xpid IS NOT NULL
            UNION ALL
            SELECT s.tier_xpid, s.tier_pid, s.bonus - s.rev_tier FROM imp_chunk s
            WHERE s.tier_xpid IS NOT NULL""",
        "accounts": f"""
            INSERT INTO loyalty_account (member_id, available, pending, lifetime_earned,
                updated_at)
            SELECT s.member_id,
                SUM(CASE WHEN s.matured = 1 AND s.expired = 0 THEN {LEFT} ELSE 0 END),
                SUM(CASE WHEN s.matured = 0 THEN {LEFT} ELSE 0 END),
                SUM(s.base + s.bonus), %(now)s
            FROM imp_chunk s GROUP BY s.member_id
            ON CONFLICT (member_id) DO UPDATE SET
                available = loyalty_account.available + excluded.available,
                pending = loyalty_account.pending + excluded.pending,
                lifetime_earned = loyalty_account.lifetime_earned + excluded.lifetime_earned,
                updated_at = excluded.updated_at""",
    }


# The chunk's refunds of orders in this file (whose orders are in `imp_chunk`).
CHUNK_REFUNDS = f"{REFUNDS} AND r.order_id IN (SELECT c.order_id FROM imp_chunk c)"


def _postgres_keys() -> tuple[str, str]:
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
    # Ordered so that keys ascend with (customer, time), as the orders are written.
    fill = f"""
            INSERT INTO imp_chunk ({CHUNK_COPIED}, {CHUNK_KEYS})
            SELECT x.*, {order_seq},
                CASE WHEN x.base > 0 THEN {posting_seq} END,
                CASE WHEN x.bonus > 0 THEN {posting_seq} END,
                CASE WHEN x.expired = 1 AND x.base - x.rev_earn > 0 THEN {posting_seq} END,
                CASE WHEN x.expired = 1 AND x.bonus - x.rev_tier > 0 THEN {posting_seq} END
            FROM (SELECT {_prefixed("s", CHUNK_COPIED)}, m.id
                FROM imp_orders s JOIN members_member m ON m.external_id = s.ckey
                WHERE {CHUNK_ORDERS} AND {_among("m.external_id", CHUNK_CUSTOMERS)}
                ORDER BY s.ckey, s.placed_at, s.order_id) AS x"""
    # The chunk's customers' refunds, found by their range (a refund of an order rejected while
    # writing gets keys it never uses: sequences have gaps anyway); narrowed to the orders in
    # `imp_chunk`, PostgreSQL probed the staged refunds once per order of the chunk (6 s at
    # 1,000,000 orders).
    refund_keys = f"""
            UPDATE imp_refunds r SET refund_pk = {refund_seq},
                rev_pid = CASE WHEN r.points_reversed > 0 THEN {posting_seq} END
            WHERE {REFUNDS}"""
    return fill, refund_keys


def _sqlite_keys() -> tuple[str, str]:
    """Keys numbered from `_sqlite_bases` (parameters `order_base`, `posting_base`,
    `refund_base`, `reversal_base`) by the rows' order in the chunk."""
    posting = "%(posting_base)s + 4 * x.n"
    fill = f"""
            INSERT INTO imp_chunk ({CHUNK_COPIED}, {CHUNK_KEYS})
            SELECT {_prefixed("x", CHUNK_COPIED)}, x.member_id, %(order_base)s + x.n,
                CASE WHEN x.base > 0 THEN {posting} END,
                CASE WHEN x.bonus > 0 THEN {posting} + 1 END,
                CASE WHEN x.expired = 1 AND x.base - x.rev_earn > 0 THEN {posting} + 2 END,
                CASE WHEN x.expired = 1 AND x.bonus - x.rev_tier > 0 THEN {posting} + 3 END
            FROM (SELECT s.*, m.id AS member_id, row_number() OVER
                    (ORDER BY s.ckey, s.placed_at, s.order_id) AS n
                FROM (SELECT {CHUNK_COPIED}, placed_at FROM imp_orders s
                    WHERE {CHUNK_ORDERS}) AS s
                JOIN members_member m ON m.external_id = s.ckey) AS x
            ORDER BY x.n"""
    refund_keys = f"""
            UPDATE imp_refunds SET refund_pk = %(refund_base)s + x.n,
                rev_pid = CASE WHEN imp_refunds.points_reversed > 0
                    THEN %(reversal_base)s + x.n END
            FROM (SELECT r.rowid AS k, row_number() OVER (ORDER BY r.refunded_at, r.refund_id)
                AS n FROM imp_refunds r WHERE {CHUNK_REFUNDS}) AS x
            WHERE imp_refunds.rowid = x.k"""
    return fill, refund_keys


def _prefixed(alias: str, columns: str) -> str:
    return ", ".join(f"{alias}.{c.strip()}" for c in columns.split(","))


def _sqlite_bases() -> dict[str, int]:
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
    return {
        "order_base": tops["loyalty_order"],
        "posting_base": tops["loyalty_posting"],
        "refund_base": tops["loyalty_refund"],
    }


COUNTS = f"""
    SELECT COUNT(*), COALESCE(SUM(s.base + s.bonus), 0), COALESCE(SUM(s.rev_earn + s.rev_tier), 0),
        COALESCE(SUM(CASE WHEN s.expired = 1 THEN {LEFT} ELSE 0 END), 0)
    FROM {{table}} s WHERE {{where}}"""
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
    result.points_from(rows(COUNTS.format(table="imp_orders", where=GOOD_NEW))[0])
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
        # The ledger locked for the whole write (`recorded_before_the_lock`).
        self.exclusive = False
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
                    if is_postgres():
                        # Like SQLite's `synchronous=NORMAL` (`staging.SQLITE_SESSION`): a chunk's
                        # commit does not wait for its WAL to reach the disk. A server crash may
                        # lose the last chunks committed (never half of one: the run's counters
                        # go with them), which the next run writes again; the run's final record
                        # is committed synchronously, which flushes every chunk before it, so an
                        # import reported finished is durable.
                        execute("SET LOCAL synchronous_commit = off")
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
        if not self.exclusive:
            self._recorded_meanwhile(params, result)
        existing, erased = self._existing_members(params)
        for ckey in erased:
            self._reject_customer(ckey, params, "member_erased", result)
        if existing:
            accounts_lock(member_ids=sorted(existing.values()))
        clock = self._lap("lock", clock)
        created, refused = self._members_create(params, set(existing) | set(erased))
        result.members_created = len(created)
        clock = self._lap("members", clock)
        for ckey in sorted(refused):
            self._reject_customer(ckey, params, "email_taken", result)
        self._tiers_of_existing(existing, params)
        clock = self._lap("prepare", clock)
        # The chunk's orders with their members' ids and keys (an earlier attempt's, or the
        # previous chunk's, rows are gone: emptied in this transaction).
        execute("TRUNCATE imp_chunk" if is_postgres() else "DELETE FROM imp_chunk")
        if not is_postgres():
            params.update(_sqlite_bases())
        execute(self.statements["fill"], params)
        result.points_from(rows(COUNTS.format(table="imp_chunk", where="TRUE"), params)[0])
        if not is_postgres():
            # Above the four posting keys of each order (numbered from 1).
            params["reversal_base"] = params["posting_base"] + 4 * (result.orders_created + 1)
        clock = self._lap("fill", clock)
        with connection.cursor() as cursor:
            for name, statement in self.statements.items():
                if name == "fill":
                    continue  # done above
                cursor.execute(statement, params)
                if name == "refunds":  # the chunk's refunds: those of its orders
                    result.refunds_created = cursor.rowcount
                clock = self._lap(name, clock)
        self._debts_settle(existing)
        self._lap("debts", clock)
        return result

    def _lap(self, step: str, since: float) -> float:
        now = time.monotonic()
        self.timings[step] += now - since
        return now

    # --- what changed since the checks -----------------------------------------------------------

    def recorded_before_the_lock(self) -> ChunkResult:
        """With the ledger locked for the whole write (`exclusive`), the orders the storefront
        recorded since the checks, found once for the whole file instead of chunk by chunk."""
        self.exclusive = True
        result = ChunkResult()
        self._recorded_meanwhile(None, result)
        ImportRun.objects.filter(pk=self.run.pk).update(
            orders_present=F("orders_present") + result.orders_present
        )
        return result

    def _recorded_meanwhile(self, params, result: ChunkResult) -> None:
        """Orders the storefront recorded since the checks (of the chunk's customers, or with
        `params` None of the whole file): present, or a conflict."""
        chunk = f"WHERE {_among('o.order_id', CHUNK_ORDER_IDS)}" if params else ""
        for order_id, row, staged, recorded in rows(
            "SELECT s.order_id, s.row_no, s.fingerprint, o.fingerprint FROM loyalty_order o "
            "JOIN imp_orders s ON s.order_id = o.order_id AND s.bad = 0 AND s.present = 0 " + chunk,
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
            "SELECT m.external_id, m.id, m.status FROM members_member m "
            f"WHERE {_among('m.external_id', CHUNK_CUSTOMERS)}",
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

    def _members_create(self, params, known: set[str]) -> tuple[dict[str, int], set[str]]:
        """Create the chunk's new members (their latest email and name, enrolled at their first
        order); referral-code collisions are retried. Returns external id -> member id of those
        created, and the customers refused (their email is another member's)."""
        latest = (
            # PostgreSQL: in the same pass over the chunk's rows, not three look-ups per customer.
            "(ARRAY_AGG(s.{0} ORDER BY s.placed_at DESC, s.order_id DESC) "
            "FILTER (WHERE s.{0} <> ''))[1]"
            if is_postgres()
            else "(SELECT e.{0} FROM imp_orders e WHERE e.ckey = s.ckey AND e.bad = 0 "
            "AND e.present = 0 AND e.{0} <> '' ORDER BY e.placed_at DESC, e.order_id DESC "
            "LIMIT 1)"
        ).format
        # One row per new customer, found set-based (the customer's staged rows are neighbours
        # in the index on (ckey, placed_at, order_id)): not every staged order through Python.
        # Enrolled at their first order: its date as the database stores it (`placed_db`).
        new = [
            (ckey, email, first or "", last or "", enrolled_at)
            for ckey, email, first, last, enrolled_at in rows(
                f"SELECT s.ckey, {latest('email')}, {latest('first_name')}, "
                f"{latest('last_name')}, MIN(s.placed_db) FROM imp_orders s "
                f"WHERE {CHUNK_ORDERS} GROUP BY s.ckey",
                params,
            )
            if ckey not in known
        ]
        if not new:
            return {}, set()
        writer = BulkWriter(
            "imp_new_members",
            ("external_id", "email", "first_name", "last_name", "enrolled_at", "referral_code"),
        )
        created: dict[str, int] = {}
        pending = new
        for _ in range(5):
            execute("DELETE FROM imp_new_members")
            writer.write(
                (*customer, code)
                for customer, code in zip(
                    pending, referral_codes_generate(len(pending)), strict=True
                )
            )
            # An external id enrolled meanwhile, an email or a referral code taken: no row
            # (`ON CONFLICT DO NOTHING`); what was inserted comes back. (`WHERE TRUE`: SQLite
            # would read the `ON` as a join's.)
            created.update(
                rows(
                    "INSERT INTO members_member (external_id, email, first_name, last_name, "
                    "phone, birth_date, marketing_consent, status, enrolled_at, referral_code, "
                    "referred_by_id, erased_at, created_at, updated_at) "
                    "SELECT n.external_id, n.email, n.first_name, n.last_name, '', NULL, "
                    "%(no)s, 'active', n.enrolled_at, n.referral_code, NULL, NULL, %(now)s, "
                    "%(now)s FROM imp_new_members n WHERE TRUE ON CONFLICT DO NOTHING "
                    "RETURNING external_id, id",
                    {**params, "no": False},
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
        return created, {p[0] for p in pending}

    def _tiers_of_existing(self, existing: dict[str, int], params) -> None:
        """Existing members earn at the multiplier of the tier they held when each order was
        placed (`tiers.tier_timeline`, the live path's rule), when it is not the entry tier."""
        entry = (self.earning.tier_code, self.earning.multiplier)
        with_history = set(
            TierChange.objects.filter(member_id__in=list(existing.values()))
            .values_list("member_id", flat=True)
            .distinct()
        )
        for ckey, member_id in existing.items():
            if member_id not in with_history and tiers.tier_for_order(member_id=member_id) == entry:
                continue
            held_at = tiers.tier_timeline(member_id=member_id)
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
                placed_at = from_utc_text(placed)
                tier = held_at(placed_at)
                if tier == entry:
                    continue  # staged at the entry tier already
                numbers = self.earning.order(
                    placed_at=placed_at,
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
