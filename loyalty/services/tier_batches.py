"""The tier evaluation of many members (the daily job, the import): set-based, in short batches,
incremental. No table lock: the storefront's orders go on while it runs.

`tier_evaluate_all(as_of=, actor=)` applies the rules of `tier_evaluate_member` (downgrades after
the hold, catch-up upgrades, renewed holds, lapsed overrides) to many members:

1. The plan: one set-based read, no lock (plain MVCC reads, which block no writer), of the
   members with something to do: all members on a first run, with `full=True`, after a change of
   the tier settings or thresholds, or for a moment earlier than the last run's; otherwise only
   those whose status can have changed since the last run (`TierEvaluationRun`: holds ending,
   overrides lapsing, orders placed since its moment or recorded since it started, tier changes
   written since). `member_ids_sql=` (the import): the members it selects.
2. The batches: `BATCH_SIZE` planned members at a time, each in its own short transaction: lock
   their accounts in key order (the writers' lock order: the account first, as `account_lock`;
   PostgreSQL `SKIP LOCKED`: a member whose account is held by an order in flight is left for
   later rather than waited for), decide again for the members locked, reading their spend and
   state under the locks, and write the history, the `tier.changed` events and the tier rows
   set-based, in that transaction. An order waits at most for one batch.
3. The members passed over are done last, one by one, waiting for their locks
   (`BUSY_LOCK_TIMEOUT` per attempt, `BUSY_ATTEMPTS` rounds, then `tier_evaluation_busy`, and
   the run is not recorded: the next run evaluates them again).

Invariants:
- A member's tier row changes only under their account lock, and the decision is read after the
  lock is taken, so an order committed meanwhile is never overruled: each member's result equals
  running the evaluation and their orders one after the other (in one of the two orders).
- A member who is not planned has nothing to do (the incremental run's argument, `docs/tiers.md`);
  the tests compare an incremental run with a full one.
- Running it twice for the same moment changes nothing the second time; two runs at once (two
  machines) write each change once, since each batch decides again under the locks.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass

from django.conf import settings as django_settings
from django.db import OperationalError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext

from config.errors import ServiceError
from loyalty import hooks
from loyalty.models import Account, Order, TierChange, TierEvaluationRun
from loyalty.selectors.program import program_settings
from loyalty.selectors.tier_metric import ladder_metric
from loyalty.selectors.tiers import (
    evaluation_moment,
    hold_cutoff,
    qualification_window,
    tier_ladder,
)
from loyalty.services.outbox import tier_events_write
from loyalty.services.tier_sql import EvaluationSQL
from members.actors import Actor
from members.models import Member

logger = logging.getLogger("loyalty.tiers")

# Members per batch transaction: what an order may have to wait for, at most (a few ms here).
BATCH_SIZE = 500
# Waiting for a member's account held by another transaction (after every other batch): each
# attempt waits at most this long, then steps aside for a moment; after the last one it gives up.
BUSY_LOCK_TIMEOUT = "2s"
BUSY_ATTEMPTS = 30
BUSY_PAUSE = 1.0
# Opening a member's account (none yet) waits for an order opening it too: this long at most.
OPEN_LOCK_TIMEOUT = "100ms"


@dataclass
class _Evaluation:
    """One evaluation's parameters and statements."""

    params: dict
    plan_sql: EvaluationSQL  # over all members (a full run)
    batch_sql: EvaluationSQL  # over `tier_scope`
    moment: dt.datetime
    config: str
    events: bool
    postgres: bool
    actor: Actor


def _evaluation(*, as_of, actor: Actor, kind: str | None, events: bool) -> _Evaluation | None:
    ladder = tier_ladder()
    if not ladder:
        return None
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
    metric = ladder_metric(settings)
    shape = {
        "window_op": ">=" if window.start_inclusive else ">",
        "ranks": [t.rank for t in ladder],
        "metric": metric,
    }
    # What the incremental run relies on staying the same between two runs.
    config = "|".join(
        [
            settings.qualification,
            *([] if metric.money else [metric.key]),  # spend: as recorded before metrics
            str(settings.tier_hold_days),
            django_settings.TIME_ZONE,
            *(f"{t.pk}:{t.rank}:{t.threshold}" for t in ladder),
        ]
    )
    return _Evaluation(
        params=params,
        plan_sql=EvaluationSQL(**shape, scoped=False),
        batch_sql=EvaluationSQL(**shape, scoped=True),
        moment=moment,
        config=config,
        events=events,
        postgres=connection.vendor == "postgresql",
        actor=actor,
    )


def tier_evaluate_all(
    *,
    as_of: dt.date | dt.datetime | None = None,
    actor: Actor | None = None,
    kind: str | None = None,
    member_ids_sql: str | None = None,
    events: bool = True,
    full: bool = False,
) -> int:
    """The evaluation of many members, in batches; returns the history entries written.

    `events`: write a `tier.changed` event per history entry (set-based, `tier_events_write`);
    the historical import does not (its one event is `import.completed`). `kind` (e.g. `import`)
    replaces upgrade/downgrade in the history, as in `tier_evaluate_member`. `member_ids_sql`:
    SQL selecting one column of member ids (it may name the caller's temporary tables; no
    parameters); only those members are evaluated, and the run is not recorded. None: the daily
    run, incremental unless `full` (see the module's docstring), recorded when it completes.
    """
    actor = actor or Actor.system("tier_evaluation")
    evaluation = _evaluation(as_of=as_of, actor=actor, kind=kind, events=events)
    if evaluation is None:
        return 0
    started = timezone.now()
    watermarks = _watermarks()
    full = full or member_ids_sql is not None or not _incremental(evaluation, watermarks)
    plan = _plan(evaluation, member_ids_sql=member_ids_sql, full=full)
    written, batches, busy = 0, 0, []
    for first in range(0, len(plan), BATCH_SIZE):
        done, passed_over = _batch_run(evaluation, plan[first : first + BATCH_SIZE], wait=False)
        written += done
        busy += passed_over
        batches += 1
    if busy:
        written += _busy_run(evaluation, busy)
        batches += len(busy)
    if member_ids_sql is None:
        TierEvaluationRun.objects.create(
            started_at=started,
            finished_at=timezone.now(),
            as_of=evaluation.moment,
            full=full,
            order_watermark=watermarks[0],
            change_watermark=watermarks[1],
            config=evaluation.config,
            members=len(plan),
            changes=written,
            batches=batches,
        )
    logger.info(
        "tier evaluation as of %s (%s): %s members planned, %s batches, %s changes",
        evaluation.moment.isoformat(),
        "full" if full else "incremental",
        len(plan),
        batches,
        written,
    )
    return written


def _watermarks() -> tuple[int, int]:
    """The highest order and tier change ids now (before the plan is read), in one query."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT (SELECT MAX(id) FROM {Order._meta.db_table}), "
            f"(SELECT MAX(id) FROM {TierChange._meta.db_table})"
        )
        order, change = cursor.fetchone()
    return order or 0, change or 0


def _incremental(evaluation: _Evaluation, watermarks: tuple[int, int]) -> bool:
    """Whether the last run lets this one evaluate only the members due (and sets the
    parameters of `candidates` from it)."""
    last = TierEvaluationRun.objects.order_by("-pk").first()
    if last is None or last.config != evaluation.config or evaluation.moment < last.as_of:
        return False
    ops = connection.ops
    evaluation.params.update(
        since=ops.adapt_datetimefield_value(last.as_of),
        order_mark=last.order_watermark,
        change_mark=last.change_watermark,
    )
    return True


def _plan(evaluation: _Evaluation, *, member_ids_sql: str | None, full: bool) -> list[int]:
    """The members with something to do, by id: one read, no lock."""
    sql = evaluation.plan_sql if full and member_ids_sql is None else evaluation.batch_sql
    with transaction.atomic(durable=True), connection.cursor() as cursor:
        _session(cursor, evaluation)
        for statement in sql.prepare:
            cursor.execute(statement)
        if member_ids_sql is not None:
            cursor.execute(sql.SCOPE_CREATE)
            cursor.execute(sql.scope_select(member_ids_sql))
        elif not full:
            cursor.execute(sql.SCOPE_CREATE)
            cursor.execute(sql.scope_select(sql.candidates), evaluation.params)
        if evaluation.postgres and sql is evaluation.batch_sql:
            cursor.execute("ANALYZE tier_scope")
        cursor.execute(sql.decide, evaluation.params)
        cursor.execute("SELECT member_id FROM tier_eval ORDER BY member_id")
        plan = [row[0] for row in cursor.fetchall()]
        for statement in sql.cleanup_plan:
            cursor.execute(statement)
    return plan


def _session(cursor, evaluation: _Evaluation) -> None:
    if evaluation.postgres:
        # A batch job: let the aggregate hash in memory rather than spill to disk, and skip
        # JIT compilation (it cost a second per statement here, for nothing).
        cursor.execute(
            "SELECT set_config('work_mem', '64MB', true), set_config('jit', 'off', true)"
        )


def _batch_run(evaluation: _Evaluation, member_ids: list[int], *, wait: bool) -> tuple[int, list]:
    """One batch in its own transaction: (history entries written, members passed over because
    another transaction holds their account; none when `wait`)."""
    sql = evaluation.batch_sql
    with transaction.atomic(durable=True), connection.cursor() as cursor:
        _session(cursor, evaluation)
        locked = member_ids
        if evaluation.postgres:
            locked = _accounts_lock(cursor, sql, member_ids, wait=wait)
            if not locked:
                return 0, member_ids
            # The history's tier columns have no foreign key: keep the tiers from being deleted
            # until this commits (their delete trigger then sees the new history).
            cursor.execute(sql.lock_tiers)
        # (A failed batch rolls back its temporary tables with it: none is left over here.)
        cursor.execute(sql.scope_values(locked))
        # Under the locks: the spend and state read again, the decision made again.
        cursor.execute(sql.decide, evaluation.params)
        cursor.execute(sql.history, evaluation.params)
        written = max(cursor.rowcount, 0)
        entered = []
        if evaluation.events and written:
            cursor.execute(sql.events)  # their `tier.changed` events, set-based
            rows = cursor.fetchall()
            tier_events_write(rows=rows, at=evaluation.moment)
            entered = _entries(rows, at=evaluation.moment)
        for statement in sql.states:
            cursor.execute(statement, evaluation.params)
        for statement in sql.cleanup_batch:
            cursor.execute(statement)
        # The batch's upgrades together, once the tier rows hold them (`loyalty.hooks`).
        hooks.tier_entered(entries=entered, actor=evaluation.actor)
    held = set(locked)
    return written, [i for i in member_ids if i not in held]


def _entries(rows: list[tuple], *, at: dt.datetime) -> list[hooks.TierEntry]:
    """The upgrades among a batch's `tier.changed` rows (`member_id, external_id, direction,
    from_code, to_code`): the tiers the members entered."""
    return [
        hooks.TierEntry(member_id=member_id, tier_code=to_code, at=at)
        for member_id, _external_id, direction, _from, to_code in rows
        if direction == "up" and to_code
    ]


def _accounts_lock(cursor, sql: EvaluationSQL, member_ids: list[int], *, wait: bool) -> list[int]:
    """Lock the members' accounts in key order; the ids locked. Without `wait`, only those free
    now (`SKIP LOCKED`); with it, waiting a bounded time (`lock_not_available` after it)."""
    if not wait:
        cursor.execute(sql.lock_accounts(member_ids, skip_locked=True))
        locked = [row[0] for row in cursor.fetchall()]
        if len(locked) < len(member_ids):
            locked = sorted([*locked, *_accounts_open(cursor, sql, member_ids, locked)])
        return locked
    cursor.execute(f"SET LOCAL lock_timeout = '{BUSY_LOCK_TIMEOUT}'")
    Account.objects.bulk_create([Account(member_id=i) for i in member_ids], ignore_conflicts=True)
    cursor.execute(sql.lock_accounts(member_ids, skip_locked=False))
    locked = [row[0] for row in cursor.fetchall()]
    cursor.execute("SET LOCAL lock_timeout = DEFAULT")
    return locked


def _accounts_open(cursor, sql: EvaluationSQL, member_ids: list[int], locked: list[int]):
    """Open and lock the accounts not open yet (as `accounts_lock`: a member's first order opens
    it, then must find it locked). Opening one waits for an order opening it at the same time:
    briefly here, else those members are left for the end (`_busy_run`)."""
    rest = set(member_ids).difference(locked)
    existing = Account.objects.filter(member_id__in=rest).values_list("pk", flat=True)
    missing = sorted(rest.difference(existing))
    if not missing:
        return []
    try:
        with transaction.atomic():
            cursor.execute(f"SET LOCAL lock_timeout = '{OPEN_LOCK_TIMEOUT}'")
            Account.objects.bulk_create(
                [Account(member_id=i) for i in missing], ignore_conflicts=True
            )
            cursor.execute("SET LOCAL lock_timeout = DEFAULT")
    except OperationalError as exc:
        if not _lock_not_available(exc):
            raise
        return []
    cursor.execute(sql.lock_accounts(missing, skip_locked=True))
    return [row[0] for row in cursor.fetchall()]


def _lock_not_available(exc: OperationalError) -> bool:
    return getattr(exc.__cause__, "sqlstate", None) == "55P03"


def _busy_run(evaluation: _Evaluation, member_ids: list[int]) -> int:
    """The members passed over: each in its own transaction, waiting for their account a bounded
    time per attempt, round after round. Raises `tier_evaluation_busy` if some are still held
    after the last attempt (what was done stays done)."""
    written, waiting = 0, member_ids
    for attempt in range(1, BUSY_ATTEMPTS + 1):
        still = []
        for member_id in waiting:
            try:
                written += _batch_run(evaluation, [member_id], wait=True)[0]
            except OperationalError as exc:
                if not _lock_not_available(exc):
                    raise
                still.append(member_id)
        if not still:
            return written
        waiting = still
        logger.warning("tier evaluation: %s accounts busy (attempt %s)", len(still), attempt)
        if attempt < BUSY_ATTEMPTS:
            time.sleep(BUSY_PAUSE)
    raise ServiceError(
        "tier_evaluation_busy",
        gettext(
            "The tier evaluation could not lock the accounts (a long transaction holds "
            "one); run it again later."
        ),
        status=503,
    )
