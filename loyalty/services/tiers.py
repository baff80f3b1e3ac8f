"""Tier services: the order path's tier, upgrades at once, the daily evaluation, staff overrides.

Interface used by the order path (`loyalty.services.orders.order_record`):
- `tier_for_order(member_id=...)` -> (tier_code, multiplier): the tier held now (an active
  override wins). No tier configured: ("", 1).
- `tier_held_at(member_id=..., at=placed_at)`: the tier held when the order was placed (the
  history, `TierChange`, for a late, back-dated order); the order earns at its multiplier.
- `tier_after_order(member_id=..., order=..., actor=...)`: upgrade at once when the order makes
  the window's qualifying spend reach a higher tier (possibly several ranks up); when it meets the
  tier already held, the member has qualified again and the hold restarts. Called inside the
  order's transaction, under the member's account lock. The order itself already earned at the
  old multiplier.

The daily job (`loyalty.services.jobs.daily_jobs_run`) calls `tier_evaluate_all(as_of=, actor=)`
(`loyalty.services.tier_batches`): downgrades after the hold, catch-up upgrades (e.g. after a
threshold was lowered), renewed holds and lapsed overrides, set-based, in short batches of
members, for the members whose status can have changed since the last run. The historical
import calls it for the members it imported (`member_ids_sql=`, `kind="import"`).
`tier_evaluate_member` applies exactly the same rules to one member (corrections; the tests
compare the two).

Invariants:
- A member's `MemberTier` row changes only under their account lock (`account_lock`), taken
  first; the evaluation of many members locks the accounts of a batch at a time, in key order,
  and only then reads their spend and state. No table lock.
- Every change of a tier (earned or overridden) writes one `TierChange` row with its actor.
- Rows are created lazily: a member without one holds the entry tier (see
  `loyalty.selectors.tiers`).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from decimal import Decimal

from django.db import connection, transaction
from django.utils import timezone

from loyalty import hooks
from loyalty.models import MemberTier, Order, ProgramSettings, Tier, TierChange
from loyalty.selectors.program import program_settings
from loyalty.selectors.tier_metric import Metric, ladder_metric, metric_value
from loyalty.selectors.tiers import (
    DOWN,
    KEEP,
    UP,
    evaluation_moment,
    hold_cutoff,
    qualification_window,
    tier_decision,
    tier_for_value,
    tier_ladder,
)
from loyalty.services.ledger import account_lock
from loyalty.services.outbox import tier_changed
from members.actors import Actor
from members.models import Member

logger = logging.getLogger("loyalty.tiers")
ONE = Decimal("1")
UNREAD = object()  # `tier_after_order(row=)`: not read by the caller


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
    tier = tier_held_now(member_tier_read(member_id=member_id), ladder)
    return tier.code, tier.multiplier


def tier_held_now(row: MemberTier | None, ladder: list[Tier]) -> Tier:
    """The tier a member with this state row holds now (an active override wins)."""
    from loyalty.selectors.order_path import tier_ladder_read

    if row is None:
        return ladder[0]
    by_id = {t.pk: t for t in ladder}
    if row.tier_id not in by_id or row.override_tier_id not in (None, *by_id):
        by_id = {t.pk: t for t in tier_ladder_read()}  # a tier added since `ladder` was read
    tier = by_id[row.tier_id]
    if row.override_tier_id is not None and row.override_until >= timezone.localdate():
        tier = by_id[row.override_tier_id]
    return tier


@dataclass(frozen=True)
class TierOrderState:
    """What the order path knows of the member's tier (`tier_order_state`)."""

    code: str
    multiplier: Decimal
    held_now: bool  # the tier the order earns at is also the tier held now
    row: MemberTier | None  # the member's tier state row as read (None: entry tier)


def tier_order_state(*, member_id: int, at: dt.datetime, ladder: list[Tier]) -> TierOrderState:
    """`tier_held_at` for the order path, which holds the member's account lock: the state row
    read with the history in one statement and kept, so that `tier_after_order` (same lock, same
    transaction: nobody else can change the row meanwhile) need not read it again."""
    from loyalty.selectors.order_path import member_tier_state_read, tier_ladder_read

    if not ladder:
        return TierOrderState("", ONE, True, None)
    row, changed_since, from_id = member_tier_state_read(member_id=member_id, after=at)
    if not changed_since:
        tier = tier_held_now(row, ladder)
        return TierOrderState(tier.code, tier.multiplier, True, row)
    by_id = {t.pk: t for t in ladder}
    if from_id is not None and from_id not in by_id:
        by_id = {t.pk: t for t in tier_ladder_read()}  # a tier added since `ladder` was read
    tier = ladder[0] if from_id is None else by_id[from_id]
    return TierOrderState(tier.code, tier.multiplier, False, row)


def tier_held_at(
    *, member_id: int, at: dt.datetime, ladder: list[Tier] | None = None
) -> tuple[str, Decimal, bool]:
    """(code, multiplier, held now) of the tier the member held at `at` (a late, back-dated
    order earns at the tier held when it was placed, `docs/tiers.md`); "held now": it is also
    the tier held now.

    No tier change after `at`: the tier held now (`tier_for_order`). Otherwise the history says
    it: the first change after `at` records the tier left behind (`from_tier`; no `from_tier`:
    the entry tier). One indexed read (`tierchange_member_at_idx`, with the state row) when
    tiers are configured.
    """
    from loyalty.selectors.order_path import tier_ladder_read

    if ladder is None:
        ladder = tier_ladder_read()
    state = tier_order_state(member_id=member_id, at=at, ladder=ladder)
    return state.code, state.multiplier, state.held_now


def tier_timeline(*, member_id: int, ladder: list[Tier] | None = None):
    """`tier_held_at` for many moments of one member (the import's history): a function of `at`
    giving (code, multiplier), with the member's history read once. The same rule."""
    import bisect

    from loyalty.selectors.order_path import tier_ladder_read

    ladder = tier_ladder_read() if ladder is None else ladder
    if not ladder:
        return lambda at: ("", ONE)
    history = list(
        TierChange.objects.filter(member_id=member_id)
        .order_by("at", "id")
        .values_list("at", "from_tier_id")
    )
    current = tier_for_order(member_id=member_id, ladder=ladder)
    moments = [at for at, _ in history]
    by_id = {t.pk: t for t in tier_ladder_read()}

    def held(at: dt.datetime) -> tuple[str, Decimal]:
        later = bisect.bisect_right(moments, at)  # the first change strictly after `at`
        if later == len(history):
            return current
        from_id = history[later][1]
        tier = ladder[0] if from_id is None else by_id[from_id]
        return tier.code, tier.multiplier

    return held


def tier_after_order(
    *,
    member_id: int,
    order: Order,
    actor: Actor,
    ladder: list[Tier] | None = None,
    settings=None,
    row: MemberTier | object | None = UNREAD,
) -> TierChange | None:
    """Upgrade at once if the order made the ladder's metric reach a higher tier; returns the
    change.

    The window ends when the order was recorded (`order.created_at`, or its `placed_at` if
    later). The new tier holds from that moment. `ladder` and `settings`: as the order path has
    just read them, else read here; `row`: the member's tier state row as read under the same
    account lock in this transaction (`tier_order_state`), else read here.
    """
    at = max(order.created_at or timezone.now(), order.placed_at)
    return tier_after_earning(
        member_id=member_id,
        at=at,
        note=f"Order {order.order_id}",
        actor=actor,
        ladder=ladder,
        settings=settings,
        row=row,
    )


def tier_after_earning(
    *,
    member_id: int,
    at: dt.datetime,
    note: str,
    actor: Actor,
    ladder: list[Tier] | None = None,
    settings=None,
    row: MemberTier | object | None = UNREAD,
) -> TierChange | None:
    """`tier_after_order`'s rule after anything that raised the member's figure at `at` (an
    order; a bonus that counts as growth value): up at once to the highest tier it meets, or,
    meeting the tier held, qualified again. Caller holds the member's account lock."""
    from loyalty.selectors.order_path import member_tier_read, tier_ladder_read

    assert connection.in_atomic_block, "tier_after_earning runs inside the writer's transaction"
    if ladder is None:
        ladder = tier_ladder_read()
    if not ladder:
        return None
    if settings is None:
        settings = program_settings()
    metric = ladder_metric(settings)
    window = qualification_window(as_of=at, qualification=settings.qualification)
    figure = metric_value(member_id=member_id, window=window, metric=metric)
    if row is UNREAD:
        row = member_tier_read(member_id=member_id)
    by_id = {t.pk: t for t in ladder}
    if row is not None and row.tier_id not in by_id:
        ladder = tier_ladder_read()  # a tier added since `ladder` was read
        by_id = {t.pk: t for t in ladder}
    current = by_id[row.tier_id] if row else ladder[0]
    target = tier_for_value(ladder, figure)
    if target.rank > current.rank:
        return _earned_set(
            member_id=member_id,
            row=row,
            current=current,
            target=target,
            at=at,
            kind=TierChange.Kind.UPGRADE,
            figure=figure,
            metric=metric,
            note=note,
            actor=actor,
        )
    if row is not None and current.rank > 0 and figure >= current.threshold:
        # Qualified again: the hold restarts from this order.
        MemberTier.objects.filter(member_id=member_id, qualified_at__lt=at).update(qualified_at=at)
    return None


def tier_after_growth(
    *, member_id: int, at: dt.datetime, note: str, actor: Actor, settings: ProgramSettings
) -> None:
    """After a bonus outside an order (an action, a birthday, a referral): when the ladder
    counts growth value, the member may have reached a higher tier at once. Nothing is read
    when the ladder counts spend or orders (`settings`: as the caller has just read them)."""
    if settings.tier_metric != ProgramSettings.TierMetric.GROWTH:
        return
    tier_after_earning(member_id=member_id, at=at, note=note, actor=actor, settings=settings)


def _earned_set(
    *,
    member_id: int,
    row: MemberTier | None,
    current: Tier,
    target: Tier,
    at: dt.datetime,
    kind: str,
    figure: Decimal | int,
    metric: Metric,
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
    if target.rank > current.rank and kind != TierChange.Kind.IMPORT:
        hooks.tier_entered(
            entries=[hooks.TierEntry(member_id=member_id, tier_code=target.code, at=at)],
            actor=actor,
        )
    return TierChange.objects.create(
        **actor.as_fields(),
        member_id=member_id,
        from_tier=current,
        to_tier=target,
        kind=kind,
        at=at,
        qualifying_spend=figure if metric.money else None,
        qualifying_value=None if metric.money else figure,
        note=note[:500],
    )


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
    metric = ladder_metric(settings)
    by_id = {t.pk: t for t in ladder}
    changes: list[TierChange] = []
    with transaction.atomic():
        if Member.objects.filter(pk=member_id, status=Member.Status.ERASED).exists():
            return []
        account_lock(member_id=member_id)
        row = MemberTier.objects.filter(member_id=member_id).first()
        figure = metric_value(member_id=member_id, window=window, metric=metric)
        current = by_id[row.tier_id] if row else ladder[0]
        target = tier_for_value(ladder, figure)
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
                    figure=figure,
                    metric=metric,
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


# The evaluation of many members (the daily job, the import) and staff overrides live in their
# own modules.
from loyalty.services.tier_batches import tier_evaluate_all  # noqa: E402
from loyalty.services.tier_overrides import tier_override, tier_override_end  # noqa: E402

__all__ = [
    "tier_after_earning",
    "tier_after_growth",
    "tier_after_order",
    "tier_evaluate_all",
    "tier_evaluate_member",
    "tier_for_order",
    "tier_held_at",
    "tier_held_now",
    "tier_order_state",
    "tier_override",
    "tier_override_end",
    "tier_timeline",
]
