"""Ledger primitives: post credits and debits, mature and expire lots, settle debts.

Every function here is a primitive: it asserts it runs inside a transaction and expects the caller
to hold the member's account lock (`account_lock`), taken first, before any other row of that
member. All changes to a member's postings, lots, debts and cached balance happen under that lock,
so the cached balance can never drift from the postings (`audit_ledger` proves it).

Spending order: lots that expire soonest first (never-expiring last), then the oldest. A refund
reversal takes the order's own still-pending points first. What no lot covers becomes a `Debt`
(only where the caller allows it); every credit that becomes available pays debts off first.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import connection
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext

from config.errors import ServiceError
from config.prepared import ModelColumns, PreparedQuery, hot_cursor, insert_sql
from events.services import event_cte_params, event_ctes_sql, event_new
from loyalty.models import Account, Debt, Lot, LotAllocation, Posting
from loyalty.models.ledger import PostingKind
from loyalty.services.outbox import EventType, earned_payload, member_event
from members.actors import Actor

# Credits that count towards "lifetime earned" (a cancelled redemption gives back, not earns).
EARNING_KINDS = frozenset(
    {PostingKind.EARN, PostingKind.TIER_BONUS, PostingKind.CAMPAIGN_BONUS, PostingKind.ADJUST}
)


def _assert_in_transaction() -> None:
    assert connection.in_atomic_block, "ledger primitives must run inside transaction.atomic()"


# Every earn takes this lock: compiled to SQL once (see `config.prepared`).
_account_for_update = PreparedQuery(
    lambda member_id: Account.objects.select_for_update().filter(member_id=member_id),
    member_id=int,
)


def account_lock(*, member_id: int) -> Account:
    """Lock (creating it if needed) the member's account row for the rest of the transaction.

    This is the first lock any change to a member's points takes; nothing else of the member's is
    locked before it, so two transactions can never wait on each other in opposite orders.
    """
    _assert_in_transaction()
    account = _account_for_update.first(member_id=member_id)
    if account is None:
        account_open(member_id=member_id)
        account = Account.objects.select_for_update().get(member_id=member_id)
    return account


_lock_versioned: dict[str, tuple] = {}


def account_lock_versioned(*, member_id: int) -> tuple[Account, int | None]:
    """`account_lock`, plus the configuration version read in the same statement (no extra round
    trip): the value the order path checks its cached settings, tiers and campaigns against
    (`loyalty.selectors.order_path.config_cached`). None if the database keeps no version (a
    backend without the `loyalty_config_version` table, or the row gone): cache nothing then.
    """
    from loyalty.selectors.order_path import CONFIG_VERSION_TABLE, config_versioned_supported

    _assert_in_transaction()
    if not config_versioned_supported(connection):
        return account_lock(member_id=member_id), None
    compiled = _lock_versioned.get(connection.vendor)
    if compiled is None:
        qn = connection.ops.quote_name
        columns = ModelColumns(Account, "a", connection)
        sql = (
            f"SELECT {columns.sql}, (SELECT {qn('v')}.{qn('version')} "
            f"FROM {qn(CONFIG_VERSION_TABLE)} {qn('v')} WHERE {qn('v')}.{qn('id')} = 1) "
            f"FROM {qn(Account._meta.db_table)} {qn('a')} "
            f"WHERE {qn('a')}.{qn(Account._meta.get_field('member').column)} = %s"
        )
        if connection.features.has_select_for_update:
            sql += f" FOR UPDATE OF {qn('a')}"
        compiled = _lock_versioned[connection.vendor] = (sql, columns)
    sql, columns = compiled
    with hot_cursor(connection) as cursor:
        cursor.execute(sql, [int(member_id)])
        row = cursor.fetchone()
    if row is None:  # no account yet: open it, then read the version on its own
        from loyalty.selectors.order_path import config_version_read

        return account_lock(member_id=member_id), config_version_read()
    return columns.instance(row[: columns.width], connection=connection), row[columns.width]


def account_open(*, member_id: int) -> None:
    """Open the member's (empty) account if it is not open yet: one INSERT, no lock. Enrolment
    does it, so that a new member's first order finds the account it locks (an order opens it
    otherwise, `account_lock`)."""
    Account.objects.bulk_create([Account(member_id=member_id)], ignore_conflicts=True)


def accounts_lock(*, member_ids: Iterable[int]) -> dict[int, Account]:
    """Lock several members' accounts, in primary-key order (the fixed lock order)."""
    _assert_in_transaction()
    ids = sorted(set(member_ids))
    Account.objects.bulk_create([Account(member_id=i) for i in ids], ignore_conflicts=True)
    return {
        a.member_id: a
        for a in Account.objects.select_for_update().filter(member_id__in=ids).order_by("pk")
    }


@dataclass
class NewCredit:
    """One credit to post (see `credits_post`)."""

    kind: str
    points: int
    idempotency_key: str
    available_at: dt.datetime
    expires_at: dt.datetime | None
    effective_at: dt.datetime | None = None
    reason: str = ""
    description: str = ""
    order_id: int | None = None
    source_type: str = ""
    source_id: str = ""
    campaign_code: str = ""
    reward_code: str = ""
    reverses_id: int | None = None


def credits_post(
    *,
    account: Account,
    credits: list[NewCredit],
    actor: Actor,
    now: dt.datetime | None = None,
    also: list[tuple[str, list]] = (),
) -> list[Posting]:
    """Post credits to a locked account: one posting and one lot each, balance updated.

    Credits whose `available_at` has passed are available at once (and pay off debt first); the
    others are pending until the maturity job. Zero-point credits are skipped.

    `also` (PostgreSQL only, with at least one credit to post): more CTEs (`name AS (...)`, its
    parameters) the same statement runs, for writes of the same change that need no answer
    (the order path's `points.earned` event and its order's campaign points: one round trip
    instead of three). The caller writes them itself when nothing is posted.
    """
    _assert_in_transaction()
    now = now or timezone.now()
    postings, matured, available, pending, earned = _credit_postings(account, credits, actor, now)
    assert not also or (postings and connection.vendor == "postgresql"), "credits_post(also=)"
    if not postings:
        return []
    if connection.vendor == "postgresql":
        _credits_write_postgresql(
            account,
            postings,
            now=now,
            available=available,
            pending=pending,
            earned=earned,
            also=also,
        )
    else:
        _credits_write(account, postings, matured=matured)
        _account_add(account, available=available, pending=pending, lifetime_earned=earned)
    if available:
        debts_settle(account=account, now=now)
    return postings


def order_credits_post(
    *,
    account: Account,
    order_insert: tuple[str, list],
    credits: list[NewCredit],
    actor: Actor,
    now: dt.datetime,
) -> tuple[int | None, list[Posting]]:
    """PostgreSQL: INSERT an order and post its credits (`credits_post`) in ONE statement.

    `order_insert`: the order's `INSERT ... ON CONFLICT DO NOTHING RETURNING id` and its
    parameters. The credits' `order_id` is the new order's. Returns (the order's id, the
    postings), or (None, []) with nothing written when the order's `order_id` is already taken.
    One round trip instead of two for the hot path of `POST /orders`; the rows are exactly
    those of the order INSERT followed by `credits_post`.
    """
    _assert_in_transaction()
    assert connection.vendor == "postgresql"
    postings, _matured, available, pending, earned = _credit_postings(account, credits, actor, now)
    assert postings, "order_credits_post: no credit to post (insert the order alone)"
    order_pk = _credits_write_postgresql(
        account,
        postings,
        now=now,
        available=available,
        pending=pending,
        earned=earned,
        order_insert=order_insert,
    )
    if order_pk is None:
        return None, []
    for p in postings:
        p.order_id = order_pk
    if available:
        debts_settle(account=account, now=now)
    return order_pk, postings


def _credit_postings(account, credits, actor, now):
    """The postings of the non-zero credits, whether each is available at once, and the sums
    (available, pending, lifetime earned) they add to the account."""
    credits = [c for c in credits if c.points]
    actor_fields = actor.as_fields()
    postings = [
        Posting(
            member_id=account.member_id,
            kind=c.kind,
            points=c.points,
            created_at=now,
            effective_at=c.effective_at or now,
            available_at=c.available_at,
            expires_at=c.expires_at,
            order_id=c.order_id,
            source_type=c.source_type,
            source_id=c.source_id,
            campaign_code=c.campaign_code,
            reward_code=c.reward_code,
            reverses_id=c.reverses_id,
            idempotency_key=c.idempotency_key,
            reason=c.reason,
            description=c.description,
            **actor_fields,
        )
        for c in credits
    ]
    # A lot is available at once when its credit's available_at has passed.
    matured = [p.available_at <= now for p in postings]
    available = sum(p.points for p, m in zip(postings, matured, strict=True) if m)
    pending = sum(p.points for p, m in zip(postings, matured, strict=True) if not m)
    earned = sum(p.points for p in postings if p.kind in EARNING_KINDS)
    return postings, matured, available, pending, earned


def _credits_write(account: Account, postings: list[Posting], *, matured: list[bool]) -> None:
    """The postings and their lots, through the ORM (any backend)."""
    Posting.objects.bulk_create(postings)
    if any(p.pk is None for p in postings):
        # Backends without RETURNING for bulk inserts: read the ids back by idempotency key.
        ids = dict(
            Posting.objects.filter(
                idempotency_key__in=[p.idempotency_key for p in postings]
            ).values_list("idempotency_key", "pk")
        )
        for p in postings:
            p.pk = p.id = ids[p.idempotency_key]
    Lot.objects.bulk_create(
        [
            Lot(
                posting_id=p.pk,
                member_id=account.member_id,
                points=p.points,
                remaining=p.points,
                available_at=p.available_at,
                expires_at=p.expires_at,
                matured=m,
            )
            for p, m in zip(postings, matured, strict=True)
        ]
    )


def _credits_write_postgresql(
    account: Account,
    postings: list[Posting],
    *,
    now: dt.datetime,
    available: int,
    pending: int,
    earned: int,
    order_insert: tuple[str, list] | None = None,
    also: list[tuple[str, list]] = (),
) -> int | None:
    """The postings, their lots and the balance in ONE statement on PostgreSQL (and the CTEs
    `also` names: see `credits_post`).

    Every earn goes through here, so it is the hot path of `POST /orders`: one round trip instead
    of three. The rows are exactly those of `_credits_write` + `_account_add` (the posting INSERT
    is Django's own, from the model's fields; lots mirror their postings, matured when
    `available_at <= now`, the same test as above); `audit_ledger` checks both paths alike.

    With `order_insert` (see `order_credits_post`), the order's INSERT comes first in the same
    statement and the postings take its id; when it inserts nothing (`order_id` taken), nothing
    else is written either. Returns the order's id (None if it was not inserted), else None.
    """
    qn = connection.ops.quote_name
    lot = {name: qn(Lot._meta.get_field(name).column) for name in LOT_COLUMNS}
    acc = {name: qn(Account._meta.get_field(name).column) for name in ACCOUNT_COLUMNS}
    returned = "RETURNING id, idempotency_key, points, available_at, expires_at"
    account_where = f"{acc['member']} = %s"
    if order_insert is None:
        posting_sql, posting_params = insert_sql(Posting, postings, connection=connection)
        head, head_params = f"WITH p AS ({posting_sql} {returned}), ", []
        answer = "SELECT idempotency_key, id FROM p"
    else:
        order_sql, order_params = order_insert
        posting_sql, posting_params = _postings_after_order_sql(postings)
        head = f"WITH o AS ({order_sql}), p AS ({posting_sql} {returned}), "
        head_params = list(order_params)
        account_where += " AND EXISTS (SELECT 1 FROM o)"
        answer = "SELECT NULL, id FROM o UNION ALL SELECT idempotency_key, id FROM p"
    sql = (
        f"{head}"
        f"l AS (INSERT INTO {qn(Lot._meta.db_table)} ({', '.join(lot.values())}) "
        f"SELECT id, %s, points, points, available_at, expires_at, available_at <= %s FROM p), "
        f"a AS (UPDATE {qn(Account._meta.db_table)} SET "
        f"{acc['available']} = {acc['available']} + %s, "
        f"{acc['pending']} = {acc['pending']} + %s, "
        f"{acc['lifetime_earned']} = {acc['lifetime_earned']} + %s, "
        f"{acc['updated_at']} = %s WHERE {account_where}) "
        f"{''.join(f', {cte}' for cte, _ in also)} "
        f"{answer}"
    )
    params = (
        *head_params,
        *posting_params,
        account.member_id,
        now,
        available,
        pending,
        earned,
        timezone.now(),
        account.member_id,
        *(param for _, cte_params in also for param in cte_params),
    )
    with hot_cursor(connection) as cursor:
        cursor.execute(sql, params)
        ids = dict(cursor.fetchall())
    order_pk = ids.pop(None, None)
    if order_insert is not None and order_pk is None:
        return None  # the order_id is taken: the statement wrote nothing
    for p in postings:
        p.pk = p.id = ids[p.idempotency_key]
        p._state.adding = False
    account.available += available
    account.pending += pending
    account.lifetime_earned += earned
    return order_pk


_after_order: dict[tuple, str] = {}
_TYPMOD = re.compile(r"\([\d,\s]+\)$")  # varchar(40) -> varchar, numeric(12, 2) -> numeric


def _cast_type(field) -> str:
    """The column's type for a CAST, without its length or precision: a value too long then
    fails the INSERT as it would otherwise (a cast to varchar(40) would cut it)."""
    return _TYPMOD.sub("", field.db_type(connection))


def _postings_after_order_sql(
    postings: list[Posting], *, from_ctes: dict[str, str] | None = None
) -> tuple[str, list]:
    """The postings' INSERT for `order_credits_post`: Django's own parameters (`insert_sql`), as
    `INSERT ... SELECT` from typed VALUES joined to the order CTE `o`, whose id fills `order_id`
    (no row: no posting). `from_ctes`: other columns filled from CTEs joined the same way
    (`{"member": "a.member_id"}`). Casts give each VALUES column its column's type (a NULL would
    be text), without its length (`_cast_type`)."""
    taken = {"order": "o.id", **(from_ctes or {})}
    fields = [f for f in Posting._meta.concrete_fields if not f.primary_key]
    computed = {i for i, f in enumerate(fields) if f.name in taken}
    params = []
    for posting in postings:  # one row at a time: Django inserts several rows with UNNEST
        _sql, row = insert_sql(Posting, [posting], connection=connection)
        params.extend(v for i, v in enumerate(row) if i not in computed)
    key = (len(postings), tuple(sorted(taken.items())))
    compiled = _after_order.get(key)
    if compiled is None:
        qn = connection.ops.quote_name
        names = [f"c{i}" for i in range(len(fields)) if i not in computed]
        casts = [f"CAST(%s AS {_cast_type(f)})" for i, f in enumerate(fields) if i not in computed]
        row = f"({', '.join(casts)})"
        select = ", ".join(
            taken[f.name] if i in computed else f"v.c{i}" for i, f in enumerate(fields)
        )
        joined = " ".join(
            f"CROSS JOIN {cte}"
            for cte in sorted({"o", *(expression.split(".")[0] for expression in taken.values())})
        )
        compiled = (
            f"INSERT INTO {qn(Posting._meta.db_table)} "
            f"({', '.join(qn(f.column) for f in fields)}) "
            f"SELECT {select} FROM (VALUES {', '.join([row] * len(postings))}) "
            f"AS v ({', '.join(names)}) {joined}"
        )
        _after_order[key] = compiled
    return compiled, params


# Column order of the lot INSERT in `_credits_write_postgresql` (its SELECT follows it).
LOT_COLUMNS = ("posting", "member", "points", "remaining", "available_at", "expires_at", "matured")
ACCOUNT_COLUMNS = ("available", "pending", "lifetime_earned", "updated_at", "member")


def credit_post(*, account: Account, credit: NewCredit, actor: Actor, now=None) -> Posting:
    return credits_post(account=account, credits=[credit], actor=actor, now=now)[0]


def _account_add(account: Account, *, available: int = 0, pending: int = 0, lifetime_earned=0):
    """Apply deltas to the locked account row (F() expressions) and mirror them in memory."""
    if not (available or pending or lifetime_earned):
        return
    Account.objects.filter(pk=account.pk).update(
        available=F("available") + available,
        pending=F("pending") + pending,
        lifetime_earned=F("lifetime_earned") + lifetime_earned,
        updated_at=timezone.now(),
    )
    account.available += available
    account.pending += pending
    account.lifetime_earned += lifetime_earned


def _spendable_lots(member_id: int, *, now: dt.datetime):
    """A member's open, available, unexpired lots in spending order (FIFO by expiry)."""
    return (
        Lot.objects.filter(member_id=member_id, remaining__gt=0, matured=True)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        .order_by(F("expires_at").asc(nulls_last=True), "available_at", "pk")
    )


def spendable_points(*, member_id: int, now: dt.datetime | None = None) -> int:
    """Points that can be spent now: available, unexpired lots, less any debt."""
    from django.db.models import Sum

    now = now or timezone.now()
    lots = _spendable_lots(member_id, now=now).aggregate(s=Sum("remaining"))["s"] or 0
    debt = (
        Debt.objects.filter(member_id=member_id, remaining__gt=0).aggregate(s=Sum("remaining"))["s"]
        or 0
    )
    return lots - debt


@dataclass
class DebitResult:
    posting: Posting
    from_available: int
    from_pending: int
    debt: int


def debit_post(
    *,
    account: Account,
    kind: str,
    points: int,
    idempotency_key: str,
    actor: Actor,
    allow_debt: bool,
    first_lots: Iterable[Lot] = (),
    effective_at: dt.datetime | None = None,
    reason: str = "",
    description: str = "",
    order_id: int | None = None,
    refund_id: int | None = None,
    source_type: str = "",
    source_id: str = "",
    campaign_code: str = "",
    reward_code: str = "",
    reverses_id: int | None = None,
    now: dt.datetime | None = None,
) -> DebitResult:
    """Post a debit of `points` (> 0) to a locked account, consuming lots.

    `first_lots` are consumed before the member's spendable lots (a refund takes its order's
    pending points first; a reversal its own lot). Without enough points: a `Debt` for the rest
    when `allow_debt`, else `insufficient_points`. The caller decides any cap beforehand.
    """
    _assert_in_transaction()
    assert points > 0, "debit_post takes a positive amount"
    now = now or timezone.now()
    plan: list[tuple[Lot, int]] = []
    left = points
    seen: set[int] = set()
    for lot in first_lots:
        if left == 0:
            break
        if lot.remaining <= 0 or lot.pk in seen:
            continue
        if lot.matured and lot.expires_at is not None and lot.expires_at <= now:
            continue
        take = min(lot.remaining, left)
        plan.append((lot, take))
        seen.add(lot.pk)
        left -= take
    if left:
        for lot in _spendable_lots(account.member_id, now=now).iterator(chunk_size=100):
            if lot.pk in seen:
                continue
            take = min(lot.remaining, left)
            plan.append((lot, take))
            left -= take
            if left == 0:
                break
    if left and not allow_debt:
        raise ServiceError(
            "insufficient_points",
            gettext("Not enough points: %(points)s needed, %(value)s available.")
            % {"points": points, "value": points - left},
            extra={"available": points - left, "required": points},
        )
    posting = Posting.objects.create(
        member_id=account.member_id,
        kind=kind,
        points=-points,
        created_at=now,
        effective_at=effective_at or now,
        order_id=order_id,
        refund_id=refund_id,
        source_type=source_type,
        source_id=source_id,
        campaign_code=campaign_code,
        reward_code=reward_code,
        reverses_id=reverses_id,
        idempotency_key=idempotency_key,
        reason=reason,
        description=description,
        **actor.as_fields(),
    )
    _allocate(posting, plan)
    from_pending = sum(take for lot, take in plan if not lot.matured)
    from_available = points - left - from_pending
    if left:
        Debt.objects.create(
            posting=posting, member_id=account.member_id, points=left, remaining=left
        )
    _account_add(account, available=-(from_available + left), pending=-from_pending)
    return DebitResult(
        posting=posting, from_available=from_available, from_pending=from_pending, debt=left
    )


def _allocate(posting: Posting, plan: list[tuple[Lot, int]]) -> None:
    if not plan:
        return
    LotAllocation.objects.bulk_create(
        [LotAllocation(posting_id=posting.pk, lot_id=lot.pk, points=take) for lot, take in plan]
    )
    for lot, take in plan:
        Lot.objects.filter(pk=lot.pk).update(remaining=F("remaining") - take)
        lot.remaining -= take


# How many lots `debts_settle` reads at a time.
LOT_PAGE = 1000


def debts_settle(*, account: Account, now: dt.datetime | None = None) -> int:
    """Pay off the member's debts from their available lots (oldest debt first). Returns points.

    The available balance does not change: debt and lots fall by the same amount. `now` is the
    caller's clock (a lot that has expired by then pays nothing), the same one the credit or the
    maturity run used.
    """
    _assert_in_transaction()
    debts = list(Debt.objects.filter(member_id=account.member_id, remaining__gt=0).order_by("pk"))
    if not debts:
        return 0
    settled = 0
    # Read the lots first, page by page, only as many as the debts need (nothing is written
    # while reading, so the pages are consistent); then plan and write.
    need = sum(debt.remaining for debt in debts)
    query = _spendable_lots(account.member_id, now=now or timezone.now())
    lots: list[Lot] = []
    covered = 0
    while covered < need:
        page = list(query[len(lots) : len(lots) + LOT_PAGE])
        lots += page
        covered += sum(lot.remaining for lot in page)
        if len(page) < LOT_PAGE:
            break
    li = 0
    for debt in debts:
        plan: list[tuple[Lot, int]] = []
        while debt.remaining > 0 and li < len(lots):
            lot = lots[li]
            take = min(debt.remaining, lot.remaining)
            if take > 0:
                plan.append((lot, take))
                debt.remaining -= take
                settled += take
                lot.remaining -= take
            if lot.remaining == 0:
                li += 1
        if not plan:
            break
        LotAllocation.objects.bulk_create(
            [LotAllocation(posting_id=debt.pk, lot_id=lot.pk, points=t) for lot, t in plan]
        )
        for lot, t in plan:
            Lot.objects.filter(pk=lot.pk).update(remaining=F("remaining") - t)
        Debt.objects.filter(pk=debt.pk).update(remaining=debt.remaining)
    return settled


def lots_mature(*, account: Account, cutoff: dt.datetime) -> int:
    """Make the member's pending lots due by `cutoff` available; pay debts from them."""
    _assert_in_transaction()
    due = Lot.objects.filter(member_id=account.member_id, matured=False, available_at__lte=cutoff)
    points = sum(due.values_list("remaining", flat=True))
    count = due.update(matured=True)
    if count:
        _account_add(account, available=points, pending=-points)
        if points:
            debts_settle(account=account, now=cutoff)
    return count


def lots_expire(*, account: Account, cutoff: dt.datetime, actor: Actor) -> int:
    """Expire what is left of the member's available lots whose expiry is at or before `cutoff`.

    One `expire` posting per lot, keyed by the lot, so a lot expires once however often this runs.
    """
    _assert_in_transaction()
    due = list(
        Lot.objects.filter(
            member_id=account.member_id,
            matured=True,
            remaining__gt=0,
            expires_at__isnull=False,
            expires_at__lte=cutoff,
        ).order_by("expires_at", "pk")
    )
    now = timezone.now()
    expired = 0
    for lot in due:
        posting = Posting.objects.create(
            member_id=account.member_id,
            kind=PostingKind.EXPIRE,
            points=-lot.remaining,
            created_at=now,
            effective_at=lot.expires_at,
            idempotency_key=f"expire:lot:{lot.pk}",
            source_type="expiry",
            source_id=str(lot.pk),
            description=f"{lot.remaining} points expired",
            reason="points lifetime reached",
            **actor.as_fields(),
        )
        _allocate(posting, [(lot, lot.remaining)])
        expired += posting.points
    if expired:
        _account_add(account, available=expired)
        member_event(
            type=EventType.POINTS_EXPIRED,
            member_id=account.member_id,
            payload={"points": expired, "lots": len(due)},
            occurred_at=now,
        )
    return len(due)


def member_settle_due(*, account: Account, actor: Actor, now: dt.datetime | None = None) -> None:
    """Bring a locked account up to date before spending: mature due lots, expire lapsed ones.

    The daily job does this for everyone; doing it here too means a member can spend points the
    moment they become available and can never spend a point past its expiry.
    """
    now = now or timezone.now()
    lots_mature(account=account, cutoff=now)
    lots_expire(account=account, cutoff=now, actor=actor)


@dataclass
class OrderEarnWritten:
    """What `order_earn_statement` wrote: the member's id, the order's id (None: its `order_id`
    was taken and nothing was written) and the account as the statement left it."""

    member_id: int
    order_pk: int | None
    account: Account | None


_earn_statement: dict[tuple, tuple[str, ModelColumns, int]] = {}


def order_earn_statement(
    *,
    member_external_id: str,
    member_conditions: dict,
    config_version: int,
    order,
    credits: list[NewCredit],
    actor: Actor,
    now: dt.datetime,
) -> OrderEarnWritten | None:
    """PostgreSQL: find the member by `external_id`, lock their account, INSERT the order unless
    its `order_id` is taken, post its credits (postings, lots, balance), in ONE statement, which
    needs no transaction around it: on its own it is one (the storefront's earn: two round trips
    instead of six with the member's read, BEGIN and COMMIT).

    The lock comes first (the order INSERT reads from it), as in `account_lock` then
    `credits_post`; the balance UPDATE then applies to the row's latest version. The order's and
    the postings' `member_id` come from the lock (`order.member` is not needed). Nothing is
    written, and None returned, unless: the member exists, is not erased, enrolled no later than
    the order was placed, and has the
    `member_conditions` (`{field attname: value}`, None meaning NULL: what the hooks need to be
    quiet), their account exists, and the configuration version is still `config_version` (what
    the caller computed the points with). The caller then takes the usual path. Credits must all
    be pending (no debt to settle) and not all zero. The order's `points.earned` event is written
    by the same statement (`events.services.event_ctes_sql`), exactly as the usual path writes it.
    """
    from loyalty.models import Order
    from loyalty.selectors.order_path import CONFIG_VERSION_TABLE
    from members.models import Member

    postings, matured, available, pending, earned = _credit_postings(
        Account(member_id=None), credits, actor, now
    )
    assert postings, "order_earn_statement: no credit to post"
    assert not any(matured), "order_earn_statement: pending credits only"
    conditions = sorted(member_conditions.items())
    key = (len(postings), tuple((name, value is None) for name, value in conditions))
    compiled = _earn_statement.get(key)
    if compiled is None:
        qn = connection.ops.quote_name
        acc = {name: qn(Account._meta.get_field(name).column) for name in ACCOUNT_COLUMNS}
        lot = {name: qn(Lot._meta.get_field(name).column) for name in LOT_COLUMNS}
        member_col = {f.attname: qn(f.column) for f in Member._meta.concrete_fields}
        order_fields = [f for f in Order._meta.concrete_fields if not f.primary_key]
        order_values = ", ".join(
            "a.member_id" if f.name == "member" else f"CAST(%s AS {_cast_type(f)})"
            for f in order_fields
        )
        member_where = " ".join(
            f"AND m.{member_col[name]} IS NULL"
            if value_is_none
            else f"AND m.{member_col[name]} = %s"
            for name, value_is_none in key[1]
        )
        returned = ModelColumns(Account, "x", connection)
        posting_sql, _ = _postings_after_order_sql(postings, from_ctes={"member": "a.member_id"})
        sql = (
            f"WITH a AS (SELECT acc.{acc['member']} AS member_id "
            f"FROM {qn(Account._meta.db_table)} acc "
            f"JOIN {qn(Member._meta.db_table)} m ON m.{member_col['id']} = acc.{acc['member']} "
            f"WHERE m.{member_col['external_id']} = %s AND m.{member_col['status']} <> %s "
            f"AND m.{member_col['enrolled_at']} <= %s "
            f"{member_where} AND (SELECT {qn('version')} "
            f"FROM {qn(CONFIG_VERSION_TABLE)} WHERE {qn('id')} = 1) = %s FOR UPDATE OF acc), "
            f"o AS (INSERT INTO {qn(Order._meta.db_table)} "
            f"({', '.join(qn(f.column) for f in order_fields)}) "
            f"SELECT {order_values} FROM a "
            f"ON CONFLICT DO NOTHING RETURNING {qn(Order._meta.pk.column)}), "
            f"p AS ({posting_sql} RETURNING id, member_id, points, available_at, expires_at), "
            f"l AS (INSERT INTO {qn(Lot._meta.db_table)} ({', '.join(lot.values())}) "
            f"SELECT id, member_id, points, points, available_at, expires_at, false FROM p), "
            f"u AS (UPDATE {qn(Account._meta.db_table)} AS {qn('x')} SET "
            f"{acc['available']} = {qn('x')}.{acc['available']} + %s, "
            f"{acc['pending']} = {qn('x')}.{acc['pending']} + %s, "
            f"{acc['lifetime_earned']} = {qn('x')}.{acc['lifetime_earned']} + %s, "
            f"{acc['updated_at']} = %s "
            f"WHERE {qn('x')}.{acc['member']} = (SELECT member_id FROM a) "
            f"AND EXISTS (SELECT 1 FROM o) RETURNING {returned.sql}), "
            # Its `points.earned` event, in the same statement (`docs/events.md`).
            f"{event_ctes_sql(source='a', where='EXISTS (SELECT 1 FROM o)')} "
            f"SELECT (SELECT member_id FROM a), (SELECT {qn(Order._meta.pk.column)} FROM o), "
            f"u.* FROM (SELECT 1) AS {qn('one')} LEFT JOIN u ON true"
        )
        member_at = next(i for i, f in enumerate(order_fields) if f.name == "member")
        compiled = _earn_statement[key] = (sql, returned, member_at)
    sql, returned, member_at = compiled
    _order_sql, order_row = insert_sql(Order, [order], connection=connection)
    _posting_sql, posting_params = _postings_after_order_sql(
        postings, from_ctes={"member": "a.member_id"}
    )
    params = (
        member_external_id,
        Member.Status.ERASED,
        order.placed_at,  # an order placed before enrolment: the usual path decides
        *(value for _, value in conditions if value is not None),
        config_version,
        *(v for i, v in enumerate(order_row) if i != member_at),
        *posting_params,
        available,
        pending,
        earned,
        timezone.now(),
        *event_cte_params(
            event_new(
                type=EventType.POINTS_EARNED,
                member_external_id=member_external_id,
                payload=earned_payload(credits=credits, order_id=order.order_id),
                occurred_at=now,
            )
        ),
    )
    with hot_cursor(connection) as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    member_id, order_pk, account_row = row[0], row[1], row[2:]
    if member_id is None:
        return None  # no such member (or erased, or not quiet), no account, or a new version
    if order_pk is None:
        return OrderEarnWritten(member_id=member_id, order_pk=None, account=None)
    return OrderEarnWritten(
        member_id=member_id,
        order_pk=order_pk,
        account=returned.instance(account_row, connection=connection),
    )
