"""Record orders and refunds: the earning rules of `docs/rules.md`, in one place.

- Eligible amount = `eligible_total` if sent, else `total`, converted to the program currency.
- Base points = floor(eligible × earn_rate); tier bonus = floor(base × (multiplier − 1)), at the
  tier held when the order was placed (`tiers.tier_held_at`: the tier history for a late,
  back-dated order; the fast path runs only with no tier configured); campaign bonuses come
  from `loyalty.hooks` providers, one posting per campaign. All are pending until
  `placed_at + pending_days`, then expire `points_lifetime_days` after that (0: never).
- An order earns once: a repeat with the same content returns the first result; other content is
  `order_conflict`. The same for refunds (`refund_conflict`); a refund's repeat also answers the
  balance of its first answer (kept on the refund), an order's the balance now (`docs/api.md`).
- Refund reversal = floor(order_points × refunded_so_far / eligible) − reversed_so_far, on
  cumulative amounts so that refunding in parts reverses exactly what refunding at once would.
  It takes the order's pending points first, then available ones; beyond that a debt, or, when
  negative balances are off, a recorded shortfall. Never more than the order still holds: points
  a Supervisor already reversed are not taken back again (`order_points_held`).

The functions `earn_breakdown` and `refund_reversal_points` are the single definition of these
rules; the bulk import uses them too.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, Decimal
from functools import partial

from django.db import IntegrityError, connection, transaction
from django.db.models import Sum
from django.db.models.constants import OnConflict
from django.utils import timezone
from django.utils.translation import gettext

from config.errors import Conflict, NotFound, ServiceError
from config.prepared import hot_cursor, insert_sql
from loyalty import hooks
from loyalty.models import (
    Account,
    ExchangeRate,
    GuestRefund,
    Lot,
    Order,
    ProgramSettings,
    Refund,
)
from loyalty.models.ledger import PostingKind
from loyalty.selectors.order_path import program_config_cached
from loyalty.selectors.program import program_settings
from loyalty.services import tiers
from loyalty.services.ledger import (
    NewCredit,
    account_lock,
    account_lock_versioned,
    credits_post,
    debit_post,
    order_credits_post,
    order_earn_statement,
)
from loyalty.services.outbox import EventType, earned_payload, member_event, member_event_cte
from members.actors import Actor
from members.models import Member

CENT = Decimal("0.01")


def _floor_points(value: Decimal) -> int:
    return int(value.to_integral_value(rounding=ROUND_FLOOR))


def _fingerprint(payload: dict) -> str:
    blob = json.dumps(payload, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()


def _money(value: Decimal) -> str:
    return str(Decimal(value).quantize(CENT))


def _cents_checked(**amounts: Decimal | None) -> None:
    """Money has at most two decimals: `validation_error` naming the first amount that has more
    (the API refuses them too; this keeps every other caller honest)."""
    for name, value in amounts.items():
        if value is None:
            continue
        value = Decimal(value)
        if not value.is_finite() or value.as_tuple().exponent < -2:
            raise ServiceError(
                "validation_error",
                gettext("%(name)s must be an amount with at most two decimals.") % {"name": name},
                status=400,
                field=name,
            )


def earn_breakdown(
    *, eligible_amount: Decimal, earn_rate: Decimal, multiplier: Decimal
) -> tuple[int, int]:
    """(base points, tier bonus) for an eligible amount in the program currency."""
    base = max(_floor_points(eligible_amount * earn_rate), 0)
    bonus = max(_floor_points(base * (multiplier - 1)), 0)
    return base, bonus


def earn_dates(
    *, placed_at: dt.datetime, settings: ProgramSettings
) -> tuple[dt.datetime, dt.datetime | None]:
    """(available_at, expires_at) of points earned on an order placed at `placed_at`."""
    available_at = placed_at + dt.timedelta(days=settings.pending_days)
    lifetime = settings.points_lifetime_days
    return available_at, (available_at + dt.timedelta(days=lifetime) if lifetime else None)


def refund_reversal_points(
    *, order_points: int, refunded_so_far: Decimal, eligible: Decimal, reversed_so_far: int
) -> int:
    """Points a refund reverses, computed on cumulative amounts (rounding never drifts)."""
    if eligible <= 0 or order_points <= 0:
        return 0
    target = _floor_points(Decimal(order_points) * refunded_so_far / eligible)
    return max(target - reversed_so_far, 0)


def _exchange_rate(currency: str, settings: ProgramSettings) -> Decimal:
    if currency == settings.currency:
        return Decimal("1")
    rate = ExchangeRate.objects.filter(currency=currency).values_list("rate", flat=True).first()
    if rate is None:
        raise ServiceError(
            "currency_mismatch",
            gettext(
                "Orders in %(currency)s are not accepted: the program's currency is "
                "%(settings_currency)s and no exchange rate is configured for %(currency)s."
            )
            % {"currency": currency, "settings_currency": settings.currency},
            field="currency",
        )
    return rate


@dataclass
class OrderResult:
    order: Order
    created: bool
    base: int
    tier_bonus: int
    campaign_bonus: list[tuple[str, int]] = field(default_factory=list)
    account: Account | None = None
    # When the order's points become (became) available: what the storefront shows as "on".
    available_at: dt.datetime | None = None
    # The member's tier code once the order is recorded (an upgrade it caused included); "" when
    # no tier is configured.
    tier_code: str = ""

    @property
    def total(self) -> int:
        return self.base + self.tier_bonus + sum(p for _, p in self.campaign_bonus)


def _order_result(order: Order, *, created: bool, account: Account | None = None) -> OrderResult:
    credits = list(
        order.postings.filter(
            kind__in=[PostingKind.EARN, PostingKind.TIER_BONUS, PostingKind.CAMPAIGN_BONUS]
        )
        .order_by("pk")
        .values_list("kind", "campaign_code", "points", "available_at")
    )
    campaign = [(code, points) for kind, code, points, _ in credits if kind == "campaign_bonus"]
    if credits:
        available_at = credits[0][3]
    else:  # an order that earned nothing: when its points would have become available
        available_at, _ = earn_dates(placed_at=order.placed_at, settings=program_settings())
    return OrderResult(
        order=order,
        created=created,
        base=order.points_base,
        tier_bonus=order.points_tier_bonus,
        campaign_bonus=campaign,
        account=account or Account.objects.filter(member_id=order.member_id).first(),
        available_at=available_at,
        tier_code=tiers.tier_for_order(member_id=order.member_id)[0],
    )


def order_record_by_external_id(
    *,
    order_id: str,
    member_external_id: str,
    placed_at: dt.datetime,
    currency: str,
    total: Decimal,
    actor: Actor,
    eligible_total: Decimal | None = None,
    items: list[dict] | None = None,
    channel: str = "",
    source: str = Order.Source.API,
    now: dt.datetime | None = None,
    retro_credit: bool = False,
) -> OrderResult:
    """`order_record` for the member with this `external_id`, as the storefront addresses them.

    The common case is one statement that finds the member too (`_order_record_one_statement`);
    otherwise the member is read (`member_get_for_api`: `member_not_found`, `member_erased`) and
    `order_record` runs as usual.
    """
    from members.selectors import member_get_for_api

    items = items or []
    now = now or timezone.now()
    try:
        _cents_checked(total=total, eligible_total=eligible_total)
        _order_amounts_check(total=total, eligible_total=eligible_total)
    except ServiceError:
        pass  # `order_record` reports it, or answers a repeat
    else:
        fast = _order_record_one_statement(
            order_fields={
                "order_id": order_id,
                "member": None,
                "placed_at": placed_at,
                "currency": currency,
                "total": total,
                "eligible_total": eligible_total,
                "items": items,
                "channel": channel,
                "fingerprint": _order_fingerprint(
                    member_external_id=member_external_id,
                    placed_at=placed_at,
                    currency=currency,
                    total=total,
                    eligible_total=eligible_total,
                    items=items,
                    channel=channel,
                ),
                "source": source,
                "created_at": now,
            },
            member_external_id=member_external_id,
            eligible=total if eligible_total is None else eligible_total,
            actor=actor,
            now=now,
        )
        if fast is not None:
            return fast
    return order_record(
        order_id=order_id,
        member=member_get_for_api(external_id=member_external_id),
        placed_at=placed_at,
        currency=currency,
        total=total,
        actor=actor,
        eligible_total=eligible_total,
        items=items,
        channel=channel,
        source=source,
        now=now,
        one_statement=False,
        retro_credit=retro_credit,
    )


def _order_fingerprint(
    *,
    member_external_id: str,
    placed_at: dt.datetime,
    currency: str,
    total: Decimal,
    eligible_total: Decimal | None,
    items: list[dict],
    channel: str,
) -> str:
    """What makes two orders under one `order_id` the same order (a repeat) or not (a conflict)."""
    return _fingerprint(
        {
            "member": member_external_id,
            "placed_at": placed_at.isoformat(),
            "currency": currency,
            "total": _money(total),
            "eligible_total": None if eligible_total is None else _money(eligible_total),
            "items": items,
            "channel": channel,
        }
    )


def _order_amounts_check(*, total: Decimal, eligible_total: Decimal | None) -> None:
    """`validation_error` for amounts no order can have (checked before anything is written;
    their form, at most two decimals, by `_cents_checked`)."""
    if total < 0 or (eligible_total is not None and eligible_total < 0):
        raise ServiceError(
            "validation_error",
            gettext("Amounts cannot be negative."),
            status=400,
            field="total" if total < 0 else "eligible_total",
        )
    if eligible_total is not None and eligible_total > total:
        raise ServiceError(
            "validation_error",
            gettext("eligible_total cannot exceed total."),
            status=400,
            field="eligible_total",
        )


def _enrolment_check(*, member: Member, placed_at: dt.datetime, retro_credit: bool) -> None:
    """An order placed before the member enrolled earns only as retro credit: asked for
    explicitly, and placed at most `LOYALTY_RETRO_CREDIT_DAYS` before enrolment
    (`docs/api.md`, "Orders placed before enrolment")."""
    from django.conf import settings as django_settings

    if placed_at >= member.enrolled_at:
        return
    if not retro_credit:
        raise ServiceError(
            "order_before_enrolment",
            f"The order was placed before the member enrolled ({member.enrolled_at:%Y-%m-%d}); "
            'send "retro_credit": true to credit a past purchase.',
            field="placed_at",
        )
    days = django_settings.LOYALTY_RETRO_CREDIT_DAYS
    if member.enrolled_at - placed_at > dt.timedelta(days=days):
        raise ServiceError(
            "retro_credit_too_old",
            f"Retro credit covers orders placed at most {days} days before enrolment.",
            field="placed_at",
        )


def order_record(
    *,
    order_id: str,
    member: Member,
    placed_at: dt.datetime,
    currency: str,
    total: Decimal,
    actor: Actor,
    eligible_total: Decimal | None = None,
    items: list[dict] | None = None,
    channel: str = "",
    source: str = Order.Source.API,
    now: dt.datetime | None = None,
    one_statement: bool = True,
    retro_credit: bool = False,
) -> OrderResult:
    """Record an order and post what it earns. Idempotent by `order_id`.

    `one_statement=False`: do not try the one-statement path (the caller just did).
    `retro_credit`: the caller asks for credit for an order placed before the member enrolled
    (`_enrolment_check`); the one-statement path never records such an order.
    """
    items = items or []
    _cents_checked(total=total, eligible_total=eligible_total)
    fingerprint = _order_fingerprint(
        member_external_id=member.external_id,
        placed_at=placed_at,
        currency=currency,
        total=total,
        eligible_total=eligible_total,
        items=items,
        channel=channel,
    )
    try:
        _order_amounts_check(total=total, eligible_total=eligible_total)
        if member.is_erased:
            raise ServiceError(
                "member_erased", gettext("This member's data has been erased."), status=410
            )
        _enrolment_check(member=member, placed_at=placed_at, retro_credit=retro_credit)
    except ServiceError:
        # A repeat of an order already recorded is answered as such even if it could not be
        # recorded today (the member erased since, a rate removed): the repeat wins. Looked up
        # only here, so that a new order (the common case) costs no query for it.
        existing = _existing_order(order_id)
        if existing is not None:
            return _replay_order(existing, fingerprint)
        raise
    eligible = total if eligible_total is None else eligible_total
    now = now or timezone.now()
    # What the order row says whichever way it is written; the points are the path's to add.
    order_fields = {
        "order_id": order_id,
        "member": member,
        "placed_at": placed_at,
        "currency": currency,
        "total": total,
        "eligible_total": eligible_total,
        "items": items,
        "channel": channel,
        "fingerprint": fingerprint,
        "source": source,
        "created_at": now,
    }
    if one_statement:
        fast = _order_record_one_statement(
            order_fields=order_fields,
            member_external_id=member.external_id,
            eligible=eligible,
            actor=actor,
            now=now,
        )
        if fast is not None:
            return fast

    try:
        with transaction.atomic():
            # The lock statement also reads the configuration version: the settings and the
            # ladder come from this process's cache when nothing changed since it was filled
            # (`loyalty.selectors.order_path`), so a change applies to the very next order.
            account, config_version = account_lock_versioned(member_id=member.pk)
            settings, ladder = program_config_cached(version=config_version)
            try:
                rate = _exchange_rate(currency, settings)
            except ServiceError:
                existing = _existing_order(order_id)  # the repeat wins, as above
                if existing is not None:
                    return _replay_order(existing, fingerprint)
                raise
            eligible_amount = (eligible * rate).quantize(CENT, rounding=ROUND_FLOOR)
            available_at, expires_at = earn_dates(placed_at=placed_at, settings=settings)
            # The tier held when the order was placed: a late, back-dated order does not earn
            # at a tier reached since (the history says which).
            tier_state = tiers.tier_order_state(member_id=member.pk, at=placed_at, ladder=ladder)
            tier_code, multiplier, held_now = (
                tier_state.code,
                tier_state.multiplier,
                tier_state.held_now,
            )
            base, tier_bonus = earn_breakdown(
                eligible_amount=eligible_amount,
                earn_rate=settings.earn_rate,
                multiplier=multiplier,
            )
            order = Order(
                **order_fields,
                exchange_rate=rate,
                eligible_amount=eligible_amount,
                points_base=base,
                points_tier_bonus=tier_bonus,
                tier_code=tier_code,
            )
            # For the hooks: what they may cache is checked against this version too.
            order._config_version = config_version
            common = _order_credit_fields(
                order_id=order_id,
                available_at=available_at,
                expires_at=expires_at,
                placed_at=placed_at,
            )
            credits = _order_credits(
                order_id=order_id,
                base=base,
                tier_bonus=tier_bonus,
                tier_code=tier_code,
                multiplier=multiplier,
                common=common,
            )
            # Insert unless the order_id is taken, in one statement: a twin for the same member
            # that committed while we waited for the lock is seen here, and one for another
            # member still in flight is waited for; either way the repeat is answered as such.
            # When no campaign can add a bonus (known from the cache, no query), the order's
            # postings, lots and balance go in the same statement (`order_credits_post`).
            one_statement = (
                connection.vendor == "postgresql"
                and (base or tier_bonus)
                and hooks.order_bonuses_quiet(config_version)
            )
            if one_statement:
                order_pk, _ = order_credits_post(
                    account=account,
                    order_insert=_order_insert_sql(order),
                    credits=credits,
                    actor=actor,
                    now=now,
                )
                inserted = order_pk is not None
                if inserted:
                    _order_saved(order, order_pk)
                posted, credits = credits, []
            else:
                posted = []
                inserted = _order_insert(order)
            if not inserted:
                existing = _existing_order(order_id)
                if existing is None:  # refused for another reason (SQLite's OR IGNORE)
                    raise IntegrityError(f"order {order_id} could not be inserted")
                return _replay_order(existing, fingerprint)
            for credit in credits:
                credit.order_id = order.pk
            campaign: list[tuple[str, int]] = []
            for provider in hooks.order_bonus_providers:
                for bonus in provider(
                    order=order, member=member, base_points=base, settings=settings, actor=actor
                ):
                    if bonus.points <= 0:
                        continue
                    campaign.append((bonus.campaign_code, bonus.points))
                    credits.append(
                        NewCredit(
                            kind=PostingKind.CAMPAIGN_BONUS,
                            points=bonus.points,
                            idempotency_key=f"order:{order_id}:campaign:{bonus.campaign_code}",
                            description=bonus.description or f"Campaign {bonus.campaign_code}",
                            campaign_code=bonus.campaign_code,
                            order_id=order.pk,
                            **common,
                        )
                    )
            earned = earned_payload(credits=[*posted, *credits], order_id=order_id)
            order.points_campaign = sum(p for _, p in campaign)
            # On PostgreSQL the order's event and campaign points go in the credits' statement.
            also = []
            if connection.vendor == "postgresql" and any(c.points for c in credits):
                if earned is not None:
                    also.append(
                        member_event_cte(
                            type=EventType.POINTS_EARNED,
                            member=member,
                            payload=earned,
                            occurred_at=now,
                        )
                    )
                if campaign:
                    also.append(_order_campaign_points_cte(order))
            written = credits_post(
                account=account, credits=credits, actor=actor, now=now, also=also
            )
            # For the order listeners (`loyalty.hooks`): the bonus postings just written.
            order.campaign_postings = [p for p in written if p.kind == PostingKind.CAMPAIGN_BONUS]
            if not also:
                if earned is not None:
                    member_event(
                        type=EventType.POINTS_EARNED, member=member, payload=earned, occurred_at=now
                    )
                if campaign:
                    Order.objects.filter(pk=order.pk).update(points_campaign=order.points_campaign)
            upgrade = tiers.tier_after_order(
                member_id=member.pk,
                order=order,
                actor=actor,
                ladder=ladder,
                settings=settings,
                row=tier_state.row,
            )
            # The tier held now: the one the order earned at, unless the order moved it or was
            # placed before a change (then read again, since an active override still wins).
            if upgrade:  # read again: an active override still wins over the new tier
                tier_now = tiers.tier_for_order(member_id=member.pk, ladder=ladder)[0]
            elif not held_now:  # placed before a change: the state row read says what is held
                tier_now = tiers.tier_held_now(tier_state.row, ladder).code
            else:
                tier_now = tier_code
            for listener in hooks.order_recorded_listeners:
                listener(order=order, member=member, actor=actor)
    except IntegrityError:
        # The same order_id recorded for another member at the same instant: the unique
        # constraint held; answer as a repeat would.
        existing = _existing_order(order_id)
        if existing is None:
            raise
        return _replay_order(existing, fingerprint)
    return OrderResult(
        order=order,
        created=True,
        base=base,
        tier_bonus=tier_bonus,
        campaign_bonus=campaign,
        account=account,
        available_at=available_at,
        tier_code=tier_now,
    )


def _order_record_one_statement(
    *,
    order_fields: dict,
    member_external_id: str,
    eligible: Decimal,
    actor: Actor,
    now: dt.datetime,
) -> OrderResult | None:
    """`order_record`'s common case on PostgreSQL in one statement (`order_earn_statement`):
    the member (by `member_external_id`; `order_fields["member"]` may be None), the account
    lock, the order, its postings, lots and balance, with no transaction around it (BEGIN and
    COMMIT are round trips too). None when the case is not that simple; the caller then takes
    the usual path, which gives the same rows (`tests/loyalty/test_api_orders_one_statement.py`
    compares them).

    The simple case: the program settings are cached for the configuration version this process
    saw last, and the statement checks that version (a change since: nothing written, usual
    path); no tier is configured (no tier to read or upgrade); the order is in the program's
    currency; every bonus provider and order listener is quiet for that version and this member
    (no campaign can add a bonus or react: `loyalty.hooks`; the member's side is checked in the
    statement), so none is called; the member exists and is not erased (else the usual path
    answers 404 / 410); the points earned are pending (credits available at once may owe a
    debt: the usual path settles it).
    """
    from loyalty.selectors.order_path import PROGRAM_CONFIG_KEY, config_cached_latest

    member, order_id = order_fields["member"], order_fields["order_id"]
    placed_at, fingerprint = order_fields["placed_at"], order_fields["fingerprint"]
    if connection.vendor != "postgresql":
        return None
    latest = config_cached_latest()
    config = latest[1].get(PROGRAM_CONFIG_KEY) if latest else None
    if config is None:
        return None
    version = latest[0]
    settings, ladder = config
    if ladder or order_fields["currency"] != settings.currency:
        return None
    if not hooks.order_bonuses_quiet(version):
        return None
    member_conditions = hooks.order_listeners_quiet(version)
    if member_conditions is None:
        return None
    if member is not None and any(getattr(member, k) != v for k, v in member_conditions.items()):
        return None  # known already: the statement would find nothing
    available_at, expires_at = earn_dates(placed_at=placed_at, settings=settings)
    if available_at <= now:
        return None
    eligible_amount = eligible.quantize(CENT, rounding=ROUND_FLOOR)  # rate 1: program currency
    base, tier_bonus = earn_breakdown(
        eligible_amount=eligible_amount, earn_rate=settings.earn_rate, multiplier=Decimal(1)
    )
    if not base:
        return None
    order = Order(
        **order_fields,
        exchange_rate=Decimal(1),
        eligible_amount=eligible_amount,
        points_base=base,
        points_tier_bonus=tier_bonus,
        tier_code="",
    )
    credits = _order_credits(
        order_id=order_id,
        base=base,
        tier_bonus=tier_bonus,
        tier_code="",
        multiplier=Decimal(1),
        common=_order_credit_fields(
            order_id=order_id,
            available_at=available_at,
            expires_at=expires_at,
            placed_at=placed_at,
        ),
    )
    write = partial(
        order_earn_statement,
        member_external_id=member_external_id,
        member_conditions=member_conditions,
        config_version=version,
        order=order,
        credits=credits,
        actor=actor,
        now=now,
    )
    if connection.in_atomic_block:  # inside the caller's transaction: a savepoint for errors
        with transaction.atomic():
            written = write()
    else:
        written = write()
    if written is None:
        return None
    if written.order_pk is None:
        existing = _existing_order(order_id)
        if existing is None:
            raise IntegrityError(f"order {order_id} could not be inserted")
        return _replay_order(existing, fingerprint)
    order.member_id = written.member_id
    _order_saved(order, written.order_pk)
    return OrderResult(
        order=order,
        created=True,
        base=base,
        tier_bonus=tier_bonus,
        campaign_bonus=[],
        account=written.account,
        available_at=available_at,
        tier_code="",
    )


def _order_credits(
    *,
    order_id: str,
    base: int,
    tier_bonus: int,
    tier_code: str,
    multiplier: Decimal,
    common: dict,
) -> list[NewCredit]:
    """An order's base and tier-bonus credits (zero-point credits are skipped when posted);
    `common`: `_order_credit_fields`."""
    return [
        NewCredit(
            kind=PostingKind.EARN,
            points=base,
            idempotency_key=f"order:{order_id}:earn",
            description=f"Order {order_id}",
            **common,
        ),
        NewCredit(
            kind=PostingKind.TIER_BONUS,
            points=tier_bonus,
            idempotency_key=f"order:{order_id}:tier",
            description=f"Tier bonus ({tier_code} ×{multiplier}) on order {order_id}",
            **common,
        ),
    ]


def _order_credit_fields(
    *,
    order_id: str,
    available_at: dt.datetime,
    expires_at: dt.datetime | None,
    placed_at: dt.datetime,
) -> dict:
    """What every credit of an order carries (its campaign bonuses' too)."""
    return {
        "available_at": available_at,
        "expires_at": expires_at,
        "effective_at": placed_at,
        "source_type": "order",
        "source_id": order_id,
    }


def _order_insert_sql(order: Order) -> tuple[str, list]:
    """The order's `INSERT ... ON CONFLICT DO NOTHING RETURNING id` (`INSERT OR IGNORE` on
    SQLite) and its parameters."""
    return insert_sql(
        Order,
        [order],
        connection=connection,
        on_conflict=OnConflict.IGNORE,
        returning=[Order._meta.pk],
    )


def _order_campaign_points_cte(order: Order) -> tuple[str, list]:
    """A CTE setting the order's `points_campaign` (see `credits_post(also=)`)."""
    qn = connection.ops.quote_name
    column = qn(Order._meta.get_field("points_campaign").column)
    sql = (
        f"oc AS (UPDATE {qn(Order._meta.db_table)} SET {column} = %s "
        f"WHERE {qn(Order._meta.pk.column)} = %s)"
    )
    return sql, [order.points_campaign, order.pk]


def _order_saved(order: Order, pk: int) -> None:
    order.pk = pk
    order._state.adding, order._state.db = False, connection.alias


def _order_insert(order: Order) -> bool:
    """INSERT the order unless its `order_id` is already taken; True (and its pk set) if it was.

    The probe for a repeat and the insert in one round trip (`_order_insert_sql`), with no
    IntegrityError to recover from.
    """
    sql, params = _order_insert_sql(order)
    with hot_cursor(connection) as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return False
    _order_saved(order, row[0])
    return True


def _existing_order(order_id: str) -> Order | None:
    """The order recorded under `order_id`, if any; the probe itself reads one indexed column."""
    pk = Order.objects.filter(order_id=order_id).order_by().values_list("pk", flat=True)[:1]
    pk = next(iter(pk), None)
    return None if pk is None else Order.objects.get(pk=pk)


def _replay_order(order: Order, fingerprint: str) -> OrderResult:
    if order.fingerprint != fingerprint:
        raise Conflict(
            "order_conflict",
            gettext("Order %(order_order_id)s was already recorded with different content.")
            % {"order_order_id": order.order_id},
        )
    return _order_result(order, created=False)


def order_points_sum(*, order: Order, kinds: list[str]) -> int:
    """Σ points of the order's postings of these kinds (a reversal carries its target's order)."""
    return order.postings.filter(kind__in=kinds).aggregate(s=Sum("points"))["s"] or 0


def order_points_held(*, order: Order) -> int:
    """What the member still holds of an order's points: earned, less what refunds took back and
    what Supervisors reversed (plus what they gave back). Never more is taken back than this."""
    taken = -order_points_sum(
        order=order, kinds=[PostingKind.REFUND_REVERSAL, PostingKind.REVERSAL]
    )
    return order.points_earned - taken


@dataclass
class RefundResult:
    refund: Refund
    created: bool
    account: Account | None


def refund_record(
    *,
    order_id: str,
    refund_id: str,
    amount: Decimal,
    actor: Actor,
    refunded_at: dt.datetime | None = None,
    now: dt.datetime | None = None,
) -> RefundResult:
    """Record a (partial) refund of an order and reverse the points it had earned."""
    _cents_checked(amount=amount)
    fingerprint = _fingerprint(
        {
            "order_id": order_id,
            "amount": _money(amount),
            "refunded_at": refunded_at.isoformat() if refunded_at else None,
        }
    )
    existing = Refund.objects.filter(refund_id=refund_id).first()
    if existing is not None:
        return _replay_refund(existing, fingerprint, order_id)
    if amount <= 0:
        raise ServiceError(
            "validation_error",
            gettext("A refund amount must be positive."),
            status=400,
            field="amount",
        )
    order = Order.objects.filter(order_id=order_id).first()
    if order is None:
        raise NotFound(
            "order_not_found", gettext("No order %(order_id)s.") % {"order_id": repr(order_id)}
        )
    if GuestRefund.objects.filter(refund_id=refund_id).exists():  # one namespace of refund ids
        raise Conflict(
            "refund_conflict",
            gettext("Refund %(refund_refund_id)s was already recorded with different content.")
            % {"refund_refund_id": refund_id},
        )
    now = now or timezone.now()
    settings = program_settings()
    with transaction.atomic():
        account = account_lock(member_id=order.member_id)
        existing = Refund.objects.filter(refund_id=refund_id).first()
        if existing is not None:
            return _replay_refund(existing, fingerprint, order_id)
        order = Order.objects.get(pk=order.pk)  # fresh, under the member's lock
        eligible = order.eligible_in_order_currency
        refunded_total = order.refunded_total + amount
        if refunded_total > eligible:
            raise ServiceError(
                "refund_exceeds_order",
                gettext(
                    "Refunds of order %(order_id)s would total %(refunded_total)s, more than its "
                    "eligible amount %(eligible)s (%(order_refunded_total)s already refunded)."
                )
                % {
                    "order_id": order_id,
                    "refunded_total": refunded_total,
                    "eligible": eligible,
                    "order_refunded_total": order.refunded_total,
                },
                field="amount",
            )
        refunded_amount = min(
            (refunded_total * order.exchange_rate).quantize(CENT, rounding=ROUND_FLOOR),
            order.eligible_amount,
        )
        to_reverse = refund_reversal_points(
            order_points=order.points_earned,
            refunded_so_far=refunded_total,
            eligible=eligible,
            reversed_so_far=order.points_reversed,
        )
        # Points a Supervisor already reversed (posting_reverse) are not taken back twice.
        staff_taken = -order_points_sum(order=order, kinds=[PostingKind.REVERSAL])
        to_reverse = min(
            to_reverse, max(order.points_earned - order.points_reversed - staff_taken, 0)
        )
        refund = Refund.objects.create(
            refund_id=refund_id,
            order=order,
            amount=amount,
            refunded_at=refunded_at or now,
            fingerprint=fingerprint,
            created_at=now,
        )
        reversed_points, shortfall = 0, 0
        if to_reverse:
            order_lots = list(
                Lot.objects.filter(posting__order=order, remaining__gt=0).order_by("matured", "pk")
            )
            pending_first = [lot for lot in order_lots if not lot.matured]
            cap = to_reverse
            if not settings.allow_negative_balance:
                from loyalty.services.ledger import spendable_points

                reachable = spendable_points(member_id=order.member_id, now=now) + sum(
                    lot.remaining for lot in pending_first
                )
                cap = max(min(to_reverse, reachable), 0)
            if cap:
                debit = debit_post(
                    account=account,
                    kind=PostingKind.REFUND_REVERSAL,
                    points=cap,
                    idempotency_key=f"refund:{refund_id}:reversal",
                    actor=actor,
                    allow_debt=settings.allow_negative_balance,
                    first_lots=pending_first,
                    effective_at=refunded_at or now,
                    order_id=order.pk,
                    refund_id=refund.pk,
                    source_type="refund",
                    source_id=refund_id,
                    description=f"Refund {refund_id} of order {order_id}",
                    now=now,
                )
                member_event(
                    type=EventType.POINTS_REVERSED,
                    member_id=order.member_id,
                    payload={
                        "points": -cap,
                        "reason": "refund",
                        "order_id": order_id,
                        "refund_id": refund_id,
                        "debt": debit.debt,
                    },
                    occurred_at=now,
                )
            reversed_points, shortfall = cap, to_reverse - cap
        # The balance of this answer, kept so that a repeat answers the same body.
        refund.answered_available, refund.answered_pending = account.available, account.pending
        Refund.objects.filter(pk=refund.pk).update(
            points_reversed=reversed_points,
            shortfall=shortfall,
            answered_available=refund.answered_available,
            answered_pending=refund.answered_pending,
        )
        refund.points_reversed, refund.shortfall = reversed_points, shortfall
        Order.objects.filter(pk=order.pk).update(
            refunded_total=refunded_total,
            refunded_amount=refunded_amount,
            points_reversed=order.points_reversed + to_reverse,
        )
    if shortfall:
        import logging

        logging.getLogger("loyalty").warning(
            "refund %s of order %s: %s points could not be reversed (negative balances are off)",
            refund_id,
            order_id,
            shortfall,
        )
    return RefundResult(refund=refund, created=True, account=account)


def _replay_refund(refund: Refund, fingerprint: str, order_id: str) -> RefundResult:
    if refund.fingerprint != fingerprint or refund.order.order_id != order_id:
        raise Conflict(
            "refund_conflict",
            gettext("Refund %(refund_refund_id)s was already recorded with different content.")
            % {"refund_refund_id": refund.refund_id},
        )
    if refund.answered_available is not None:
        # The first answer's balance (docs/api.md: a repeat answers the same body), not today's.
        answered = Account(
            member_id=refund.order.member_id,
            available=refund.answered_available,
            pending=refund.answered_pending,
        )
        return RefundResult(refund=refund, created=False, account=answered)
    return RefundResult(  # written by the import: there was no first answer
        refund=refund,
        created=False,
        account=Account.objects.filter(member_id=refund.order.member_id).first(),
    )
