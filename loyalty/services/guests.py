"""Guest orders: recording an order of a customer who is not a member, and claiming a guest's
orders as a member's history when they enrol.

Kept apart from the earn path (`loyalty.services.orders`): a guest order earns nothing, writes no
posting and locks no account. `POST /api/v1/orders` sends an order without `member` here.

- Idempotent like orders: the same `order_id` with the same content answers the stored order
  (`created` False); other content, or an `order_id` a member's order already has, is an
  `order_conflict`.
- Claiming (`guest_orders_claim`, run when a member enrols through the storefront): the guest
  orders whose `guest_key` is the member's (`guest_keys_for`: their external id, and the hash of
  their email) and that no one has claimed become the member's orders, under the historical
  import's rules: each earns what the import would have given it (base points at the earn rate
  and the entry tier's bonus, available and expiring from the order's own date, so points whose
  lifetime has already ended are posted and expire at once). The order ids are the guest orders' own
  ids, prefixed `guest:` so they cannot meet a storefront order id. Each guest order records the
  member and the order written for it, once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext

from config.errors import Conflict
from loyalty.models import GuestOrder, Order, Posting, Tier
from loyalty.selectors.program import program_settings
from loyalty.services.ledger import NewCredit, account_lock, credits_post, lots_expire
from loyalty.services.orders import _exchange_rate, _fingerprint, earn_breakdown, earn_dates
from members.actors import Actor
from members.models import Member

CENT = Decimal("0.01")
CLAIM_PREFIX = "guest:"


def guest_key_for_email(email: str) -> str:
    """The guest key of an email address: never the address itself."""
    return "sha256:" + hashlib.sha256(email.strip().lower().encode()).hexdigest()


def guest_keys_for(member: Member) -> list[str]:
    """The keys a member's earlier guest orders may carry: their external id (the shop's
    customer id) and their email's hash."""
    keys = [member.external_id]
    if member.email:
        keys.append(guest_key_for_email(member.email))
    return keys


@dataclass(frozen=True)
class GuestOrderResult:
    order: GuestOrder
    created: bool


def _conflict(order_id: str) -> Conflict:
    return Conflict(
        "order_conflict",
        gettext("Order %(order_order_id)s was already recorded with different content.")
        % {"order_order_id": order_id},
    )


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
    items = items or []
    fingerprint = _fingerprint(
        {
            "guest_key": guest_key,
            "placed_at": placed_at.isoformat(),
            "currency": currency,
            "total": str(Decimal(total).quantize(CENT)),
            "eligible_total": None
            if eligible_total is None
            else str(Decimal(eligible_total).quantize(CENT)),
            "items": items,
            "channel": channel,
        }
    )
    existing = GuestOrder.objects.filter(order_id=order_id).first()
    if existing is not None:
        if existing.fingerprint != fingerprint:
            raise _conflict(order_id)
        return GuestOrderResult(existing, created=False)
    if Order.objects.filter(order_id=order_id).exists():
        raise _conflict(order_id)
    settings = program_settings()
    rate = _exchange_rate(currency, settings)
    eligible = total if eligible_total is None else eligible_total
    try:
        with transaction.atomic():
            order = GuestOrder.objects.create(
                order_id=order_id,
                guest_key=guest_key,
                placed_at=placed_at,
                currency=currency,
                total=total,
                eligible_total=eligible_total,
                exchange_rate=rate,
                eligible_amount=(eligible * rate).quantize(CENT, rounding=ROUND_HALF_UP),
                items=items,
                channel=channel,
                fingerprint=fingerprint,
                source=source,
            )
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


def _claim_one(guest: GuestOrder, *, member: Member, account, settings, entry, actor, now):
    """Write the member's order for one guest order and post what the import would have."""
    base, bonus = earn_breakdown(
        eligible_amount=guest.eligible_amount,
        earn_rate=settings.earn_rate,
        multiplier=entry.multiplier if entry else Decimal(1),
    )
    order = Order.objects.create(
        order_id=CLAIM_PREFIX + guest.order_id,
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
