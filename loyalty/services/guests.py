"""Guest orders: recording an order of a customer who is not a member, and claiming a guest's
orders as a member's history when they enrol.

Kept apart from the earn path (`loyalty.services.orders`): a guest order earns nothing, writes no
posting and locks no account. `POST /api/v1/orders` without `member` comes here
(`guest_order_record`); the historical import's guest rows too, many at a time
(`guest_orders_record_many`: the same rules, one look-up and one INSERT per batch). Refunds of
guest orders: `loyalty.services.guest_refunds`.

- A guest key (`guest_key_check`) is the shop's customer id (1-64 of `A-Z a-z 0-9 - _ . :`; no
  `@`: an email is never a key) or `sha256:` and the 64 hex digits of the email's hash
  (`guest_key_for_email`); empty when the customer is unknown.
- Idempotent like orders: the same `order_id` with the same content answers the stored order
  (`created` False); other content, or an `order_id` a member's order already has, is an
  `order_conflict`.
- Claiming (`guest_orders_claim`, run when a member enrols through the storefront): the guest
  orders whose `guest_key` is the member's (`guest_keys_for`: their external id, and the hash of
  their email) and that no one has claimed become the member's orders, under the historical
  import's rules: each earns what the import would have given it (base points at the earn rate
  and the entry tier's bonus, available and expiring from the order's own date, so points whose
  lifetime has already ended are posted and expire at once). The order ids are the guest orders' own
  ids, prefixed `guest:` so they cannot meet a storefront order id (`claimed_id`). The guest
  order's refunds are recorded on the member's order (through `refund_record`, ids prefixed the
  same way), reversing what they would have. Each guest order records the member and the order
  written for it, once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy

from config.errors import Conflict, ServiceError
from loyalty.models import GuestOrder, Order, Posting, Tier
from loyalty.selectors.program import program_settings
from loyalty.services.ledger import NewCredit, account_lock, credits_post, lots_expire
from loyalty.services.orders import (
    _cents_checked,
    _exchange_rate,
    _fingerprint,
    _order_amounts_check,
    earn_breakdown,
    earn_dates,
    refund_record,
)
from members.actors import Actor
from members.models import Member

CENT = Decimal("0.01")
CLAIM_PREFIX = "guest:"
# The shop's customer id (an external id without `@`), or the hash of an email.
GUEST_KEY_PATTERN = r"^(sha256:[0-9a-f]{64}|[A-Za-z0-9_.:-]{1,64})$"
GUEST_KEY_RE = re.compile(GUEST_KEY_PATTERN)
GUEST_KEY_MESSAGE = gettext_lazy(
    "A guest key is the shop's customer id (1-64 letters, digits, '-', '_', '.' or ':'; never "
    "an email) or 'sha256:' and the 64 lower-case hex digits of the SHA-256 of the trimmed, "
    "lower-cased email."
)


def guest_key_for_email(email: str) -> str:
    """The guest key of an email address: never the address itself."""
    return "sha256:" + hashlib.sha256(email.strip().lower().encode()).hexdigest()


def guest_key_check(guest_key: str) -> None:
    """`validation_error` naming `guest_key` unless it is empty or a key's form."""
    if guest_key and not GUEST_KEY_RE.fullmatch(guest_key):
        raise ServiceError(
            "validation_error", str(GUEST_KEY_MESSAGE), status=400, field="guest_key"
        )


def guest_keys_for(member: Member) -> list[str]:
    """The keys a member's earlier guest orders may carry: their external id (the shop's
    customer id) and their email's hash."""
    keys = [member.external_id]
    if member.email:
        keys.append(guest_key_for_email(member.email))
    return keys


def claimed_id(value: str) -> str:
    """The id of a claimed guest order (or refund) among members' ones: `guest:` and its own id,
    or, when that would pass 64 characters, `guest:` and a hash of it (the same every time)."""
    candidate = CLAIM_PREFIX + value
    if len(candidate) <= 64:
        return candidate
    return CLAIM_PREFIX + hashlib.sha256(value.encode()).hexdigest()[: 64 - len(CLAIM_PREFIX)]


@dataclass(frozen=True)
class GuestOrderResult:
    order: GuestOrder
    created: bool


@dataclass(frozen=True)
class NewGuestOrder:
    """One guest order to record (`guest_orders_record_many`); `row` is the caller's own
    reference for reporting (the import's file row)."""

    order_id: str
    guest_key: str
    placed_at: dt.datetime
    currency: str
    total: Decimal
    eligible_total: Decimal | None = None
    items: list[dict] = field(default_factory=list)
    channel: str = ""
    row: int = 0


@dataclass
class GuestBatchResult:
    created: int = 0
    present: int = 0
    conflicts: list[NewGuestOrder] = field(default_factory=list)


def _conflict(order_id: str) -> Conflict:
    return Conflict(
        "order_conflict",
        gettext("Order %(order_order_id)s was already recorded with different content.")
        % {"order_order_id": order_id},
    )


def _guest_fingerprint(new: NewGuestOrder) -> str:
    return _fingerprint(
        {
            "guest_key": new.guest_key,
            "placed_at": new.placed_at.isoformat(),
            "currency": new.currency,
            "total": str(Decimal(new.total).quantize(CENT)),
            "eligible_total": None
            if new.eligible_total is None
            else str(Decimal(new.eligible_total).quantize(CENT)),
            "items": new.items,
            "channel": new.channel,
        }
    )


def _guest_row(new: NewGuestOrder, *, fingerprint: str, rate: Decimal, source: str) -> GuestOrder:
    eligible = new.total if new.eligible_total is None else new.eligible_total
    return GuestOrder(
        order_id=new.order_id,
        guest_key=new.guest_key,
        placed_at=new.placed_at,
        currency=new.currency,
        total=new.total,
        eligible_total=new.eligible_total,
        exchange_rate=rate,
        eligible_amount=(eligible * rate).quantize(CENT, rounding=ROUND_HALF_UP),
        items=new.items,
        channel=new.channel,
        fingerprint=fingerprint,
        source=source,
    )


def _amounts_check(new: NewGuestOrder) -> None:
    """The amounts rules of a member's order (at most two decimals, not negative, eligible at
    most the total)."""
    _cents_checked(total=new.total, eligible_total=new.eligible_total)
    _order_amounts_check(total=new.total, eligible_total=new.eligible_total)


def guest_order_record(
    *,
    order_id: str,
    guest_key: str,
    placed_at: dt.datetime,
    currency: str,
    total: Decimal,
    eligible_total: Decimal | None = None,
    items: list[dict] | None = None,
    channel: str = "",
    source: str = GuestOrder.Source.API,
) -> GuestOrderResult:
    """Record a guest's order (nothing earned); the same order again answers the first."""
    new = NewGuestOrder(
        order_id=order_id,
        guest_key=guest_key,
        placed_at=placed_at,
        currency=currency,
        total=total,
        eligible_total=eligible_total,
        items=items or [],
        channel=channel,
    )
    guest_key_check(guest_key)
    fingerprint = _guest_fingerprint(new)
    existing = GuestOrder.objects.filter(order_id=order_id).first()
    if existing is not None:
        if existing.fingerprint != fingerprint:
            raise _conflict(order_id)
        return GuestOrderResult(existing, created=False)
    _amounts_check(new)
    if Order.objects.filter(order_id=order_id).exists():
        raise _conflict(order_id)
    rate = _exchange_rate(currency, program_settings())
    try:
        with transaction.atomic():
            order = _guest_row(new, fingerprint=fingerprint, rate=rate, source=source)
            order.save(force_insert=True)
    except IntegrityError:  # the same order_id at the same instant: answer the winner
        return guest_order_record(
            order_id=order_id,
            guest_key=guest_key,
            placed_at=placed_at,
            currency=currency,
            total=total,
            eligible_total=eligible_total,
            items=items,
            channel=channel,
            source=source,
        )
    return GuestOrderResult(order, created=True)


def guest_orders_record_many(
    *, orders: Sequence[NewGuestOrder], source: str, write: bool = True
) -> GuestBatchResult:
    """`guest_order_record` for many orders at once (the historical import), inside the
    caller's transaction: the same fingerprints and conflicts, one look-up of the ids already
    taken and one INSERT. An order whose id is taken with other content (or by a member's
    order) is returned in `conflicts`, not written. `write=False` only counts (a dry run)."""
    result = GuestBatchResult()
    if not orders:
        return result
    ids = [new.order_id for new in orders]
    stored = dict(
        GuestOrder.objects.filter(order_id__in=ids).values_list("order_id", "fingerprint")
    )
    members = set(Order.objects.filter(order_id__in=ids).values_list("order_id", flat=True))
    settings = program_settings()
    rates: dict[str, Decimal] = {}
    rows, seen = [], set()
    for new in orders:
        guest_key_check(new.guest_key)
        _amounts_check(new)
        fingerprint = _guest_fingerprint(new)
        if new.order_id in stored:
            if stored[new.order_id] == fingerprint:
                result.present += 1
            else:
                result.conflicts.append(new)
            continue
        if new.order_id in members or new.order_id in seen:
            result.conflicts.append(new)
            continue
        seen.add(new.order_id)
        if new.currency not in rates:
            rates[new.currency] = _exchange_rate(new.currency, settings)
        rows.append(
            _guest_row(new, fingerprint=fingerprint, rate=rates[new.currency], source=source)
        )
    if write and rows:
        GuestOrder.objects.bulk_create(rows, batch_size=1000)
    result.created = len(rows)
    return result


def _claim_one(guest: GuestOrder, *, member: Member, account, settings, entry, actor, now):
    """Write the member's order for one guest order and post what the import would have."""
    base, bonus = earn_breakdown(
        eligible_amount=guest.eligible_amount,
        earn_rate=settings.earn_rate,
        multiplier=entry.multiplier if entry else Decimal(1),
    )
    order = Order.objects.create(
        order_id=claimed_id(guest.order_id),
        member=member,
        placed_at=guest.placed_at,
        currency=guest.currency,
        total=guest.total,
        eligible_total=guest.eligible_total,
        exchange_rate=guest.exchange_rate,
        eligible_amount=guest.eligible_amount,
        items=guest.items,
        channel=guest.channel,
        points_base=base,
        points_tier_bonus=bonus,
        tier_code=entry.code if entry else "",
        fingerprint=guest.fingerprint,
        source=Order.Source.IMPORT,
    )
    GuestOrder.objects.filter(pk=guest.pk, member__isnull=True).update(
        member=member, claimed_order=order
    )
    available_at, expires_at = earn_dates(placed_at=guest.placed_at, settings=settings)
    credits = [
        NewCredit(
            kind=kind,
            points=points,
            idempotency_key=f"order:{order.order_id}:{kind}",
            available_at=available_at,
            expires_at=expires_at,
            effective_at=guest.placed_at,
            order_id=order.pk,
            source_type="order",
            source_id=order.order_id,
            description=gettext("Earlier guest order"),
        )
        for kind, points in ((Posting.Kind.EARN, base), (Posting.Kind.TIER_BONUS, bonus))
    ]
    credits_post(account=account, credits=credits, actor=actor, now=now)
    for refund in guest.refunds.order_by("refunded_at", "pk"):
        refund_record(
            order_id=order.order_id,
            refund_id=claimed_id(refund.refund_id),
            amount=refund.amount,
            refunded_at=refund.refunded_at,
            actor=actor,
            now=now,
        )


def guest_orders_claim(*, member: Member, actor: Actor, now: dt.datetime | None = None) -> int:
    """Make the member's unclaimed guest orders their orders (inside the caller's transaction,
    e.g. the enrolment's); returns how many were claimed."""
    now = now or timezone.now()
    keys = guest_keys_for(member)
    guests = list(
        GuestOrder.objects.select_for_update()
        .filter(Q(guest_key__in=keys), member__isnull=True)
        .order_by("placed_at", "pk")
    )
    if not guests:
        return 0
    settings = program_settings()
    entry = Tier.objects.order_by("rank").first()
    account = account_lock(member_id=member.pk)
    for guest in guests:
        _claim_one(
            guest,
            member=member,
            account=account,
            settings=settings,
            entry=entry,
            actor=actor,
            now=now,
        )
    # Points whose lifetime ended before the claim expire now, dated when they expired.
    lots_expire(account=account, cutoff=now, actor=actor)
    return len(guests)


def guest_orders_claim_listener(*, member: Member, actor: Actor) -> None:
    """`loyalty.hooks.member_enrolled_listeners`: a new member's earlier guest orders."""
    guest_orders_claim(member=member, actor=actor)
