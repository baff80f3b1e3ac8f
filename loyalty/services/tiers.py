"""Tier services: the order path's tier, upgrades at once, the daily evaluation, staff overrides.

Interface used by the order path (`loyalty.services.orders.order_record`):
- `tier_for_order(member_id=...)` -> (tier_code, multiplier): the tier held now (an active
  override wins); the order earns at its multiplier. No tier configured: ("", 1).
- `tier_after_order(member_id=..., order=..., actor=...)`: upgrade at once when the order makes
  the window's qualifying spend reach a higher tier (possibly several ranks up); when it meets the
  tier already held, the member has qualified again and the hold restarts. Called inside the
  order's transaction, under the member's account lock. The order itself already earned at the
  old multiplier.

The daily job (`loyalty.services.jobs.daily_jobs_run`) calls `tier_evaluate_all(as_of=, actor=)`:
downgrades after the hold, catch-up upgrades (e.g. after a threshold was lowered), renewed holds
and lapsed overrides for all members, in a few set-based SQL statements (PostgreSQL and SQLite).
The historical import calls it for the members it imported (`member_ids_sql=`, `kind="import"`).
`tier_evaluate_member` applies exactly the same rules to one member (corrections; the tests
compare the two).

Invariants:
- A member's `MemberTier` row changes only under their account lock (`account_lock`), taken
  first; the evaluation of all members locks the account table (EXCLUSIVE: it waits for the
  account locks held and holds new ones off until it commits), the evaluation of given members
  their accounts, in key order; only then does it read their spend and state.
- Every change of a tier (earned or overridden) writes one `TierChange` row with its actor.
- Rows are created lazily: a member without one holds the entry tier (see
  `loyalty.selectors.tiers`).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from decimal import Decimal

from django.db import OperationalError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext

from config.errors import ServiceError
from loyalty.models import Account, MemberTier, Order, Tier, TierChange
from loyalty.selectors.program import program_settings
from loyalty.selectors.tiers import (
    DOWN,
    KEEP,
    UP,
    evaluation_moment,
    hold_cutoff,
    qualification_window,
    qualifying_spend,
    tier_decision,
    tier_for_spend,
    tier_ladder,
)
from loyalty.services.ledger import account_lock
from loyalty.services.outbox import tier_changed, tier_events_write
from members.actors import Actor
from members.models import Member
from members.services import audit_record

logger = logging.getLogger("loyalty.tiers")
ONE = Decimal("1")


# --- the order path --------------------------------------------------------------------------


def tier_for_order(*, member_id: int, ladder: list[Tier] | None = None) -> tuple[str, Decimal]:
    """(code, multiplier) of the tier the member holds now; ("", 1) with no tier configured.

    `ladder`: the tiers (`tier_ladder()`) if the caller has just read them, else read here. With
    no tier there is nothing else to read: a `MemberTier` row cannot exist without its tier.
    """
    from loyalty.selectors.order_path import member_tier_read, tier_ladder_read

    if ladder is None:
        ladder = tier_ladder_read()
    if not ladder:
        return "", ONE
    row = member_tier_read(member_id=member_id)
    if row is None:
        return ladder[0].code, ladder[0].multiplier
    by_id = {t.pk: t for t in ladder}
    if row.tier_id not in by_id or row.override_tier_id not in (None, *by_id):
        by_id = {t.pk: t for t in tier_ladder_read()}  # a tier added since `ladder` was read
    tier = by_id[row.tier_id]
    if row.override_tier_id is not None and row.override_until >= timezone.localdate():
        tier = by_id[row.override_tier_id]
    return tier.code, tier.multiplier


def tier_after_order(
    *,
    member_id: int,
    order: Order,
    actor: Actor,
    ladder: list[Tier] | None = None,
    settings=None,
) -> TierChange | None:
    """Upgrade at once if the order made the spend reach a higher tier; returns the change.

    The window ends when the order was recorded (`order.created_at`, or its `placed_at` if
    later). The new tier holds from that moment. `ladder` and `settings`: as the order path has
    just read them, else read here.
    """
    from loyalty.selectors.order_path import member_tier_read, tier_ladder_read

    assert connection.in_atomic_block, "tier_after_order runs inside the order's transaction"
    if ladder is None:
        ladder = tier_ladder_read()
    if not ladder:
        return None
    if settings is None:
        settings = program_settings()
    at = max(order.created_at or timezone.now(), order.placed_at)
    window = qualification_window(as_of=at, qualification=settings.qualification)
    spend = qualifying_spend(member_id=member_id, window=window)
    row = member_tier_read(member_id=member_id)
    by_id = {t.pk: t for t in ladder}
    if row is not None and row.tier_id not in by_id:
        ladder = tier_ladder_read()  # a tier added since `ladder` was read
        by_id = {t.pk: t for t in ladder}
    current = by_id[row.tier_id] if row else ladder[0]
    target = tier_for_spend(ladder, spend)
    if target.rank > current.rank:
        return _earned_set(
            member_id=member_id,
            row=row,
            current=current,
            target=target,
            at=at,
            kind=TierChange.Kind.UPGRADE,
            spend=spend,
            note=f"Order {order.order_id}",
            actor=actor,
        )
    if row is not None and current.rank > 0 and spend >= current.threshold:
        # Qualified again: the hold restarts from this order.
        MemberTier.objects.filter(member_id=member_id, qualified_at__lt=at).update(qualified_at=at)
    return None


def _earned_set(
    *,
    member_id: int,
    row: MemberTier | None,
    current: Tier,
    target: Tier,
    at: dt.datetime,
    kind: str,
    spend: Decimal | None,
    note: str,
    actor: Actor,
) -> TierChange:
    """Move the earned tier to `target` from `at` (caller holds the account lock)."""
    if row is None:
        MemberTier.objects.create(member_id=member_id, tier=target, since=at, qualified_at=at)
    else:
        MemberTier.objects.filter(member_id=member_id).update(
            tier=target, since=at, qualified_at=at
        )
    tier_changed(
        member_id=member_id,
        from_tier=current,
        to_tier=target,
        direction=UP if target.rank > current.rank else DOWN,
        at=at,
    )
    return TierChange.objects.create(
        **actor.as_fields(),
        member_id=member_id,
        from_tier=current,
        to_tier=target,
        kind=kind,
        at=at,
        qualifying_spend=spend,
        note=note[:500],
    )


# --- overrides -------------------------------------------------------------------------------


def _entry_tier() -> Tier:
    entry = Tier.objects.order_by("rank").first()
    if entry is None:
        raise ServiceError("no_tiers", gettext("No tier is configured yet."))
    return entry


def tier_override(
    *, member: Member, tier: Tier, until: dt.date, reason: str, actor: Actor
) -> MemberTier:
    """Place the member in `tier` through `until` (inclusive), whatever they earn; audited.

    Replaces an override already in place. Raises `validation_error` for a past date or an empty
    reason, `member_erased` for an erased member.
    """
    reason = (reason or "").strip()
    if not reason:
        raise ServiceError(
            "validation_error",
            gettext("Give a reason for the override."),
            status=400,
            field="reason",
        )
    today = timezone.localdate()
    if until < today:
        raise ServiceError(
            "validation_error",
            gettext("The override must end today or later."),
            status=400,
            field="until",
        )
    if member.is_erased:
        raise ServiceError(
            "member_erased", gettext("This member's data has been erased."), status=410
        )
    now = timezone.now()
    with transaction.atomic(durable=True):
        account_lock(member_id=member.pk)
        row = _row_for_update(member=member)
        before = _effective(row, today)
        old = (row.override_tier.code if row.override_tier else None, row.override_until)
        row.override_tier = tier
        row.override_until = until
        row.override_reason = reason[:500]
        row.override_by = actor.label[:150]
        row.override_at = now
        row.save()
        TierChange.objects.create(
            **actor.as_fields(),
            member=member,
            from_tier=before,
            to_tier=tier,
            kind=TierChange.Kind.OVERRIDE,
            at=now,
            note=f"Until {until.isoformat()}: {reason}"[:500],
        )
        tier_changed(
            member_id=member.pk,
            member=member,
            from_tier=before,
            to_tier=tier,
            direction="override",
            at=now,
        )
        audit_record(
            actor=actor,
            action="tier.override",
            target=row,
            member=member,
            reason=reason,
            changes={
                "override_tier": (old[0], tier.code),
                "override_until": (old[1], until),
            },
        )
    return row


def tier_override_end(*, member: Member, reason: str, actor: Actor) -> MemberTier | None:
    """End the member's override now; they hold their earned tier again. Audited."""
    reason = (reason or "").strip()
    if not reason:
        raise ServiceError(
            "validation_error", gettext("Give a reason for ending the override."), field="reason"
        )
    now = timezone.now()
    with transaction.atomic(durable=True):
        account_lock(member_id=member.pk)
        row = MemberTier.objects.filter(member_id=member.pk).first()
        if row is None or row.override_tier_id is None:
            return row
        old_tier, old_until = row.override_tier, row.override_until
        MemberTier.objects.filter(member_id=member.pk).update(
            override_tier=None,
            override_until=None,
            override_reason="",
            override_by="",
            override_at=None,
        )
        TierChange.objects.create(
            **actor.as_fields(),
            member=member,
            from_tier=old_tier,
            to_tier=row.tier,
            kind=TierChange.Kind.OVERRIDE,
            at=now,
            note=f"Override ended early: {reason}"[:500],
        )
        tier_changed(
            member_id=member.pk,
            member=member,
            from_tier=old_tier,
            to_tier=row.tier,
            direction="override",
            at=now,
        )
        audit_record(
            actor=actor,
            action="tier.override_end",
            target=row,
            member=member,
            reason=reason,
            changes={"override_tier": (old_tier.code, None), "override_until": (old_until, None)},
        )
        row.refresh_from_db()
    return row


def _row_for_update(*, member: Member) -> MemberTier:
    """The member's row (caller holds the account lock), created in the entry tier if missing."""
    row = MemberTier.objects.select_related("tier", "override_tier").filter(member=member).first()
    if row is None:
        row = MemberTier.objects.create(
            member=member,
            tier=_entry_tier(),
            since=member.enrolled_at,
            qualified_at=member.enrolled_at,
        )
    return row


def _effective(row: MemberTier, today: dt.date) -> Tier:
    if row.override_tier_id is not None and row.override_until >= today:
        return row.override_tier
    return row.tier


# --- evaluation, one member ------------------------------------------------------------------


def tier_evaluate_member(
    *,
    member_id: int,
    actor: Actor,
    as_of: dt.date | dt.datetime | None = None,
    kind: str | None = None,
) -> list[TierChange]:
    """Apply the daily evaluation's rules to one member (imports, corrections); the changes.

    `kind` (e.g. `import`) replaces upgrade/downgrade in the history. Runs in the caller's
    transaction if there is one, and takes the member's account lock.
    """
    ladder = tier_ladder()
    if not ladder:
        return []
    settings = program_settings()
    moment = evaluation_moment(as_of)
    today = timezone.localdate(moment)
    cutoff = hold_cutoff(today=today, hold_days=settings.tier_hold_days)
    window = qualification_window(as_of=moment, qualification=settings.qualification)
    by_id = {t.pk: t for t in ladder}
    changes: list[TierChange] = []
    with transaction.atomic():
        if Member.objects.filter(pk=member_id, status=Member.Status.ERASED).exists():
            return []
        account_lock(member_id=member_id)
        row = MemberTier.objects.filter(member_id=member_id).first()
        spend = qualifying_spend(member_id=member_id, window=window)
        current = by_id[row.tier_id] if row else ladder[0]
        target = tier_for_spend(ladder, spend)
        expired = row is not None and row.qualified_at < cutoff
        decision = tier_decision(
            current_rank=current.rank, target_rank=target.rank, hold_expired=expired
        )
        if decision in (UP, DOWN):
            default = TierChange.Kind.UPGRADE if decision == UP else TierChange.Kind.DOWNGRADE
            changes.append(
                _earned_set(
                    member_id=member_id,
                    row=row,
                    current=current,
                    target=target,
                    at=moment,
                    kind=kind or default,
                    spend=spend,
                    note="Tier evaluation",
                    actor=actor,
                )
            )
        elif decision == KEEP:
            MemberTier.objects.filter(member_id=member_id).update(qualified_at=moment)
        row = MemberTier.objects.filter(member_id=member_id).first()
        if row is not None and row.override_tier_id is not None and row.override_until < today:
            changes.append(
                TierChange.objects.create(
                    **actor.as_fields(),
                    member_id=member_id,
                    from_tier_id=row.override_tier_id,
                    to_tier_id=row.tier_id,
                    kind=TierChange.Kind.OVERRIDE_LAPSED,
                    at=moment,
                    note=f"Override ended: {row.override_reason}"[:500],
                )
            )
            tier_changed(
                member_id=member_id,
                from_tier=by_id.get(row.override_tier_id),
                to_tier=by_id.get(row.tier_id),
                direction="lapse",
                at=moment,
            )
            MemberTier.objects.filter(member_id=member_id).update(
                override_tier=None,
                override_until=None,
                override_reason="",
                override_by="",
                override_at=None,
            )
    return changes


# --- evaluation, all members (set-based) -----------------------------------------------------


def tier_evaluate_all(
    *,
    as_of: dt.date | dt.datetime | None = None,
    actor: Actor | None = None,
    kind: str | None = None,
    member_ids_sql: str | None = None,
    events: bool = True,
) -> int:
    """The daily evaluation in set-based SQL; returns the history entries written.

    `events`: write a `tier.changed` event per history entry (set-based, `tier_events_write`);
    the historical import does not (its one event is `import.completed`).

    `kind` (e.g. `import`) replaces upgrade/downgrade in the history, as in
    `tier_evaluate_member`. `member_ids_sql`: SQL selecting one column of member ids (it may name
    the caller's temporary tables; no parameters); only those members are evaluated. None: all.

    1. Locks. All members: `loyalty_account` in EXCLUSIVE mode, which waits for every transaction
       holding an account lock (an order, a refund… in flight) and makes new ones wait until this
       commits; plain reads go on. Given members: their accounts' rows, in key order. On SQLite
       writers are serialised anyway.
    2. One statement, under the locks: one aggregate of the window's spend per member, joined to
       the tier rows, and the decision (`tier_decision`) into a temporary table of the members
       with something to do (a change, a renewed hold, a lapsed override).
    3. Three statements write the history (changes and lapses, one INSERT), the tier rows that
       exist (one UPDATE) and the new ones (one INSERT).
    Spend is read once, after the locks, so an order recorded meanwhile is never overruled.
    Running it twice for the same moment changes nothing the second time.
    """
    actor = actor or Actor.system("tier_evaluation")
    ladder = tier_ladder()
    if not ladder:
        return 0
    settings = program_settings()
    moment = evaluation_moment(as_of)
    today = timezone.localdate(moment)
    window = qualification_window(as_of=moment, qualification=settings.qualification)
    ops = connection.ops
    params = {
        "start": ops.adapt_datetimefield_value(window.start),
        "end": ops.adapt_datetimefield_value(window.end),
        "cutoff": ops.adapt_datetimefield_value(
            hold_cutoff(today=today, hold_days=settings.tier_hold_days)
        ),
        "today": ops.adapt_datefield_value(today),
        "at": ops.adapt_datetimefield_value(moment),
        "created": ops.adapt_datetimefield_value(timezone.now()),
        "entry": ladder[0].pk,
        "erased": Member.Status.ERASED,
        "up": kind or TierChange.Kind.UPGRADE,
        "down": kind or TierChange.Kind.DOWNGRADE,
        "lapsed": TierChange.Kind.OVERRIDE_LAPSED,
        **{f"actor_{k}": v for k, v in actor.as_fields().items()},
        **{f"threshold_{t.rank}": str(t.threshold) for t in ladder},
    }
    sql = _EvaluationSQL(
        window_op=">=" if window.start_inclusive else ">",
        ranks=[t.rank for t in ladder],
        scoped=member_ids_sql is not None,
    )
    postgres = connection.vendor == "postgresql"
    with transaction.atomic(durable=True), connection.cursor() as cursor:
        if postgres:
            # A batch job: let the aggregate hash in memory rather than spill to disk, and skip
            # JIT compilation (it cost a second per statement here, for nothing).
            cursor.execute("SET LOCAL work_mem = '64MB'")
            cursor.execute("SET LOCAL jit = off")
        for statement in sql.prepare:
            cursor.execute(statement, params)
        if member_ids_sql is not None:
            for statement in sql.scope(member_ids_sql):
                cursor.execute(statement)
            if postgres:
                cursor.execute("ANALYZE tier_scope")
        if postgres and member_ids_sql is None:
            _account_table_lock(cursor, sql.lock_all)
        elif postgres:
            cursor.execute(sql.lock_scope)
            # The history's tier columns have no foreign key: keep the tiers from being deleted
            # until this commits (their delete trigger then sees the new history).
            cursor.execute(sql.lock_tiers)
        cursor.execute(sql.decide, params)
        if postgres:
            cursor.execute("ANALYZE tier_eval")
        cursor.execute(sql.history, params)
        written = max(cursor.rowcount, 0)
        if events and written:
            cursor.execute(sql.events)  # their `tier.changed` events, set-based
            tier_events_write(rows=cursor.fetchall(), at=moment)
        for statement in sql.states:
            cursor.execute(statement, params)
        for statement in sql.cleanup:
            cursor.execute(statement)
    logger.info("tier evaluation as of %s: %s changes", moment.isoformat(), written)
    return written


# Waiting for the account table: each attempt waits at most this long (orders that start
# meanwhile queue behind it), then steps aside for a moment; after the last one it gives up.
TABLE_LOCK_TIMEOUT = "2s"
TABLE_LOCK_ATTEMPTS = 30
TABLE_LOCK_PAUSE = 1.0


def _account_table_lock(cursor, statement: str) -> None:
    """Take `statement` (the account table's EXCLUSIVE lock) without stalling the order path
    behind a long transaction: a bounded wait per attempt, in a savepoint so a timed-out attempt
    leaves the transaction usable. Raises `tier_evaluation_busy` after the last attempt."""
    for attempt in range(1, TABLE_LOCK_ATTEMPTS + 1):
        try:
            with transaction.atomic():
                cursor.execute(f"SET LOCAL lock_timeout = '{TABLE_LOCK_TIMEOUT}'")
                cursor.execute(statement)
                cursor.execute("SET LOCAL lock_timeout = DEFAULT")
            return
        except OperationalError as exc:
            if getattr(exc.__cause__, "sqlstate", None) != "55P03":  # lock_not_available
                raise
            logger.warning("tier evaluation: account table busy (attempt %s)", attempt)
            if attempt == TABLE_LOCK_ATTEMPTS:
                raise ServiceError(
                    "tier_evaluation_busy",
                    gettext(
                        "The tier evaluation could not lock the accounts (a long transaction holds "
                        "one); run it again later."
                    ),
                    status=503,
                ) from exc
            time.sleep(TABLE_LOCK_PAUSE)


class _EvaluationSQL:
    """The statements of `tier_evaluate_all` (portable SQL: PostgreSQL and SQLite ≥ 3.33).

    Thresholds are compared in SQL as `CAST(param AS NUMERIC)` against `ROUND(SUM(...), 2)`:
    exact on PostgreSQL, and on SQLite (which sums decimals as floats) the rounding makes a spend
    of exactly a threshold compare equal to it.
    """

    def __init__(self, *, window_op: str, ranks: list[int], scoped: bool) -> None:
        order = Order._meta.db_table
        member = Member._meta.db_table
        member_tier = MemberTier._meta.db_table
        tier = Tier._meta.db_table
        change = TierChange._meta.db_table
        account = Account._meta.db_table
        in_window = f"o.placed_at {window_op} %(start)s AND o.placed_at <= %(end)s"
        in_scope_o = " AND o.member_id IN (SELECT member_id FROM tier_scope)" if scoped else ""
        in_scope_mt = " AND mt.member_id IN (SELECT member_id FROM tier_scope)" if scoped else ""

        def target_rank(amount: str) -> str:
            whens = " ".join(
                f"WHEN {amount} >= CAST(%(threshold_{rank})s AS NUMERIC) THEN {rank}"
                for rank in sorted(ranks, reverse=True)
            )
            return f"CASE {whens} ELSE 0 END"

        self.prepare = [
            "DROP TABLE IF EXISTS tier_scope",
            "DROP TABLE IF EXISTS tier_eval",
        ]
        self.cleanup = ["DROP TABLE IF EXISTS tier_scope", "DROP TABLE tier_eval"]
        self.lock_all = f"LOCK TABLE {account} IN EXCLUSIVE MODE"
        self.lock_tiers = f"SELECT COUNT(*) FROM (SELECT id FROM {tier} FOR KEY SHARE) t"
        # The given members' account locks, in key order (like `accounts_lock`).
        self.lock_scope = f"""SELECT COUNT(*) FROM (
            SELECT a.member_id FROM {account} a
            WHERE a.member_id IN (SELECT member_id FROM tier_scope)
            ORDER BY a.member_id FOR UPDATE OF a) locked"""
        # Under the locks: each member's spend (one aggregate, read once), tier state and the
        # decision (`tier_decision`); only members with something to do are kept.
        self.decide = f"""CREATE TEMPORARY TABLE tier_eval AS
            WITH spend AS (
                SELECT o.member_id, ROUND(SUM(o.eligible_amount - o.refunded_amount), 2) AS spend
                FROM {order} o WHERE {in_window}{in_scope_o}
                GROUP BY o.member_id
            )
            SELECT y.*, tt.id AS target_id,
                   CASE WHEN y.target_rank > y.cur_rank THEN '{UP}'
                        WHEN y.cur_rank > 0 AND y.expired = 1 AND y.target_rank < y.cur_rank
                            THEN '{DOWN}'
                        WHEN y.cur_rank > 0 AND y.expired = 1 THEN '{KEEP}'
                        ELSE NULL END AS action
            FROM (
                SELECT c.member_id,
                       COALESCE(s.spend, 0) AS spend,
                       CASE WHEN mt.member_id IS NULL THEN 0 ELSE 1 END AS has_row,
                       COALESCE(mt.tier_id, %(entry)s) AS cur_id,
                       COALESCE(ct.rank, 0) AS cur_rank,
                       {target_rank("COALESCE(s.spend, 0)")} AS target_rank,
                       CASE WHEN mt.qualified_at < %(cutoff)s THEN 1 ELSE 0 END AS expired,
                       CASE WHEN mt.override_until < %(today)s THEN 1 ELSE 0 END AS lapse,
                       mt.override_tier_id, mt.override_reason
                FROM (
                    SELECT member_id FROM spend
                    UNION
                    SELECT mt.member_id FROM {member_tier} mt
                    WHERE (mt.qualified_at < %(cutoff)s OR mt.override_until < %(today)s)
                        {in_scope_mt}
                ) c
                LEFT JOIN spend s ON s.member_id = c.member_id
                LEFT JOIN {member_tier} mt ON mt.member_id = c.member_id
                LEFT JOIN {tier} ct ON ct.id = mt.tier_id
                WHERE c.member_id NOT IN (SELECT m.id FROM {member} m WHERE m.status = %(erased)s)
            ) y
            LEFT JOIN {tier} tt ON tt.rank = y.target_rank
            WHERE y.target_rank > y.cur_rank OR (y.cur_rank > 0 AND y.expired = 1)
                OR y.lapse = 1"""
        actor_columns = "actor_kind, actor_label, actor_user_id, actor_api_key_id"
        actor_values = (
            "%(actor_actor_kind)s, %(actor_actor_label)s, %(actor_actor_user_id)s, "
            "%(actor_actor_api_key_id)s"
        )
        changed = f"e.action IN ('{UP}', '{DOWN}')"
        # The earned change first, then the lapse (to the tier earned now), as one member's
        # evaluation writes them.
        self.history = f"""INSERT INTO {change} (member_id, from_tier_id, to_tier_id, kind, at,
                qualifying_spend, note, created_at, {actor_columns})
            SELECT h.member_id, h.from_id, h.to_id, h.kind, %(at)s, h.spend, h.note, %(created)s,
                   {actor_values}
            FROM (
                SELECT e.member_id, 0 AS seq, e.cur_id AS from_id, e.target_id AS to_id,
                       CASE WHEN e.action = '{UP}' THEN %(up)s ELSE %(down)s END AS kind,
                       e.spend AS spend, 'Tier evaluation' AS note
                FROM tier_eval e WHERE {changed}
                UNION ALL
                SELECT e.member_id, 1, e.override_tier_id,
                       CASE WHEN {changed} THEN e.target_id ELSE e.cur_id END,
                       %(lapsed)s, NULL, SUBSTR('Override ended: ' || e.override_reason, 1, 500)
                FROM tier_eval e WHERE e.lapse = 1
            ) h
            ORDER BY h.member_id, h.seq"""
        # The events of the same rows, in the same order (`tier_events_write`).
        self.events = f"""SELECT h.member_id, m.external_id, h.direction, ft.code, tt.code
            FROM (
                SELECT e.member_id, 0 AS seq, e.action AS direction, e.cur_id AS from_id,
                       e.target_id AS to_id
                FROM tier_eval e WHERE {changed}
                UNION ALL
                SELECT e.member_id, 1, 'lapse', e.override_tier_id,
                       CASE WHEN {changed} THEN e.target_id ELSE e.cur_id END
                FROM tier_eval e WHERE e.lapse = 1
            ) h
            JOIN {member} m ON m.id = h.member_id
            LEFT JOIN {tier} ft ON ft.id = h.from_id
            LEFT JOIN {tier} tt ON tt.id = h.to_id
            ORDER BY h.member_id, h.seq"""
        self.states = [
            f"""UPDATE {member_tier} AS mt SET
                tier_id = CASE WHEN {changed} THEN e.target_id ELSE mt.tier_id END,
                since = CASE WHEN {changed} THEN %(at)s ELSE mt.since END,
                qualified_at = CASE WHEN e.action IS NOT NULL THEN %(at)s ELSE mt.qualified_at END,
                override_tier_id = CASE WHEN e.lapse = 1 THEN NULL ELSE mt.override_tier_id END,
                override_until = CASE WHEN e.lapse = 1 THEN NULL ELSE mt.override_until END,
                override_reason = CASE WHEN e.lapse = 1 THEN '' ELSE mt.override_reason END,
                override_by = CASE WHEN e.lapse = 1 THEN '' ELSE mt.override_by END,
                override_at = CASE WHEN e.lapse = 1 THEN NULL ELSE mt.override_at END
            FROM tier_eval e WHERE e.member_id = mt.member_id AND e.has_row = 1""",
            f"""INSERT INTO {member_tier} (member_id, tier_id, since, qualified_at,
                override_tier_id, override_until, override_reason, override_by, override_at)
            SELECT e.member_id, e.target_id, %(at)s, %(at)s, NULL, NULL, '', '', NULL
            FROM tier_eval e WHERE e.action = '{UP}' AND e.has_row = 0""",
        ]

    @staticmethod
    def scope(member_ids_sql: str) -> list[str]:
        return [
            "CREATE TEMPORARY TABLE tier_scope (member_id bigint PRIMARY KEY)",
            f"INSERT INTO tier_scope (member_id) SELECT DISTINCT * FROM ({member_ids_sql}) x",
        ]
