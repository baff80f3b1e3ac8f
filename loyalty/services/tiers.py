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
`tier_evaluate_member` applies exactly the same rules to one member (imports; the tests compare
the two).

Invariants:
- A member's `MemberTier` row changes only under their account lock (`account_lock`), taken
  first; the evaluation locks the accounts of the members it may change, in key order, and then
  re-reads their spend and state before writing.
- Every change of a tier (earned or overridden) writes one `TierChange` row with its actor.
- Rows are created lazily: a member without one holds the entry tier (see
  `loyalty.selectors.tiers`).
"""

from __future__ import annotations

import datetime as dt
import logging
from decimal import Decimal

from django.db import connection, transaction
from django.utils import timezone

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
        raise ServiceError("no_tiers", "No tier is configured yet.")
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
            "validation_error", "Give a reason for the override.", status=400, field="reason"
        )
    today = timezone.localdate()
    if until < today:
        raise ServiceError(
            "validation_error", "The override must end today or later.", status=400, field="until"
        )
    if member.is_erased:
        raise ServiceError("member_erased", "This member's data has been erased.", status=410)
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
            "validation_error", "Give a reason for ending the override.", field="reason"
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
    *, as_of: dt.date | dt.datetime | None = None, actor: Actor | None = None
) -> int:
    """The daily evaluation for every member, in set-based SQL; returns the changes written.

    1. Candidates, without locks: tier rows whose hold has ended or whose override has lapsed,
       and, from one aggregate over the window's orders, members whose spend reaches a higher
       tier than they hold (a temporary table).
    2. The candidates' accounts are locked in key order (PostgreSQL; SQLite serialises writers),
       then their spend and tier state are read again and the decisions made in one statement,
       so an order recorded meanwhile is never overruled.
    3. A few INSERT/UPDATE statements write the history and the new states.
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
        "up": TierChange.Kind.UPGRADE,
        "down": TierChange.Kind.DOWNGRADE,
        "lapsed": TierChange.Kind.OVERRIDE_LAPSED,
        **{f"actor_{k}": v for k, v in actor.as_fields().items()},
        **{f"threshold_{t.rank}": str(t.threshold) for t in ladder},
    }
    sql = _EvaluationSQL(
        window_op=">=" if window.start_inclusive else ">", ranks=[t.rank for t in ladder]
    )
    postgres = connection.vendor == "postgresql"
    with transaction.atomic(durable=True), connection.cursor() as cursor:
        if postgres:
            # A batch job: let the aggregates hash in memory rather than spill to disk.
            cursor.execute("SET LOCAL work_mem = '64MB'")
        for statement in sql.candidates:
            cursor.execute(statement, params)
        if postgres:
            cursor.execute("ANALYZE tier_cand")
        if connection.features.has_select_for_update:
            cursor.execute(sql.lock, params)
        cursor.execute(sql.decide, params)
        cursor.execute("CREATE UNIQUE INDEX tier_eval_member ON tier_eval (member_id)")
        if postgres:
            cursor.execute("ANALYZE tier_eval")
        written = 0
        for statement in sql.apply:
            cursor.execute(statement, params)
            if statement.lstrip().startswith(f"INSERT INTO {TierChange._meta.db_table}"):
                written += max(cursor.rowcount, 0)
        cursor.execute("DROP TABLE tier_cand")
        cursor.execute("DROP TABLE tier_eval")
    logger.info("tier evaluation as of %s: %s changes", moment.isoformat(), written)
    return written


class _EvaluationSQL:
    """The statements of `tier_evaluate_all` (portable SQL: PostgreSQL and SQLite ≥ 3.33).

    Thresholds are compared in SQL as `CAST(param AS NUMERIC)` against `ROUND(SUM(...), 2)`:
    exact on PostgreSQL, and on SQLite (which sums decimals as floats) the rounding makes a spend
    of exactly a threshold compare equal to it.
    """

    def __init__(self, *, window_op: str, ranks: list[int]) -> None:
        order = Order._meta.db_table
        member = Member._meta.db_table
        member_tier = MemberTier._meta.db_table
        tier = Tier._meta.db_table
        change = TierChange._meta.db_table
        account = Account._meta.db_table
        in_window = f"o.placed_at {window_op} %(start)s AND o.placed_at <= %(end)s"
        spend = "ROUND(SUM(o.eligible_amount - o.refunded_amount), 2)"

        def target_rank(amount: str) -> str:
            whens = " ".join(
                f"WHEN {amount} >= CAST(%(threshold_{rank})s AS NUMERIC) THEN {rank}"
                for rank in sorted(ranks, reverse=True)
            )
            return f"CASE {whens} ELSE 0 END"

        self.candidates = [
            "DROP TABLE IF EXISTS tier_cand",
            "DROP TABLE IF EXISTS tier_eval",
            "CREATE TEMPORARY TABLE tier_cand (member_id bigint PRIMARY KEY)",
            f"""INSERT INTO tier_cand (member_id)
            SELECT mt.member_id FROM {member_tier} mt JOIN {tier} ct ON ct.id = mt.tier_id
            WHERE (ct.rank > 0 AND mt.qualified_at < %(cutoff)s) OR mt.override_until < %(today)s
            UNION
            SELECT s.member_id FROM (
                SELECT o.member_id, {spend} AS spend FROM {order} o
                WHERE {in_window} GROUP BY o.member_id
            ) s
            LEFT JOIN {member_tier} mt ON mt.member_id = s.member_id
            LEFT JOIN {tier} ct ON ct.id = mt.tier_id
            WHERE {target_rank("s.spend")} > COALESCE(ct.rank, 0)""",
        ]
        # The candidates' account locks, in key order (like `accounts_lock`).
        self.lock = f"""SELECT COUNT(*) FROM (
            SELECT a.member_id FROM {account} a
            WHERE a.member_id IN (SELECT member_id FROM tier_cand)
            ORDER BY a.member_id FOR UPDATE OF a) locked"""
        # Under the locks: fresh spend and state, and the decision (`tier_decision`).
        self.decide = f"""CREATE TEMPORARY TABLE tier_eval AS
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
                       CASE WHEN mt.override_until < %(today)s THEN 1 ELSE 0 END AS lapse
                FROM tier_cand c
                JOIN {member} m ON m.id = c.member_id AND m.status <> %(erased)s
                LEFT JOIN (
                    SELECT o.member_id, {spend} AS spend FROM {order} o
                    WHERE o.member_id IN (SELECT member_id FROM tier_cand) AND {in_window}
                    GROUP BY o.member_id
                ) s ON s.member_id = c.member_id
                LEFT JOIN {member_tier} mt ON mt.member_id = c.member_id
                LEFT JOIN {tier} ct ON ct.id = mt.tier_id
            ) y
            LEFT JOIN {tier} tt ON tt.rank = y.target_rank"""
        actor_columns = "actor_kind, actor_label, actor_user_id, actor_api_key_id"
        actor_values = (
            "%(actor_actor_kind)s, %(actor_actor_label)s, %(actor_actor_user_id)s, "
            "%(actor_actor_api_key_id)s"
        )
        self.apply = [
            f"""INSERT INTO {change} (member_id, from_tier_id, to_tier_id, kind, at,
                qualifying_spend, note, created_at, {actor_columns})
            SELECT e.member_id, e.cur_id, e.target_id,
                   CASE WHEN e.action = '{UP}' THEN %(up)s ELSE %(down)s END,
                   %(at)s, e.spend, 'Tier evaluation', %(created)s, {actor_values}
            FROM tier_eval e WHERE e.action IN ('{UP}', '{DOWN}') ORDER BY e.member_id""",
            f"""UPDATE {member_tier} SET
                tier_id = (SELECT e.target_id FROM tier_eval e
                           WHERE e.member_id = {member_tier}.member_id),
                since = %(at)s, qualified_at = %(at)s
            WHERE member_id IN (SELECT e.member_id FROM tier_eval e
                                WHERE e.action IN ('{UP}', '{DOWN}') AND e.has_row = 1)""",
            f"""UPDATE {member_tier} SET qualified_at = %(at)s
            WHERE member_id IN (SELECT e.member_id FROM tier_eval e WHERE e.action = '{KEEP}')""",
            f"""INSERT INTO {member_tier} (member_id, tier_id, since, qualified_at,
                override_tier_id, override_until, override_reason, override_by, override_at)
            SELECT e.member_id, e.target_id, %(at)s, %(at)s, NULL, NULL, '', '', NULL
            FROM tier_eval e WHERE e.action = '{UP}' AND e.has_row = 0""",
            f"""INSERT INTO {change} (member_id, from_tier_id, to_tier_id, kind, at,
                qualifying_spend, note, created_at, {actor_columns})
            SELECT mt.member_id, mt.override_tier_id, mt.tier_id, %(lapsed)s, %(at)s, NULL,
                   SUBSTR('Override ended: ' || mt.override_reason, 1, 500), %(created)s,
                   {actor_values}
            FROM {member_tier} mt JOIN tier_eval e ON e.member_id = mt.member_id
            WHERE e.lapse = 1 ORDER BY mt.member_id""",
            f"""UPDATE {member_tier} SET override_tier_id = NULL, override_until = NULL,
                override_reason = '', override_by = '', override_at = NULL
            WHERE member_id IN (SELECT e.member_id FROM tier_eval e WHERE e.lapse = 1)""",
        ]
