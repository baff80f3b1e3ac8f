"""Demo activity for `load_demo` (its campaigns step): the named demo members shop, campaigns
award, rewards are redeemed, and customer service has adjusted points, so every list and the
dashboard show something a new staff member can follow.

Runs after the campaigns and rewards exist, through the same services the storefront and staff
use (orders, activities, redemptions, adjustments), so every point is in the ledger. Idempotent:
the first demo order's id is the marker; when it exists nothing is done again. Dates are
relative to today, so the demo reads the same whenever it is loaded: one order falls on the last
Friday (the "Double points Fridays" campaign awards it), one adjustment request waits for a
supervisor. Local demo only (`load_demo` refuses to run with DEBUG off).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.db.models import F
from django.utils import timezone

from campaigns.services.actions import activity_record
from loyalty.models import Account
from loyalty.services.adjustments import adjustment_request
from loyalty.services.orders import order_record_by_external_id
from members.actors import Actor
from members.models import Member
from rewards.services import redemption_cancel, redemption_create, redemption_use

MARKER = "DEMO-O-0001"

# (order id, member, days ago (None: the last Friday), total in GBP, category)
ORDERS = (
    ("DEMO-O-0001", "DEMO-0001", 40, "86.50", "Home"),
    ("DEMO-O-0002", "DEMO-0001", None, "120.00", "Gifts"),
    ("DEMO-O-0003", "DEMO-0002", 25, "42.99", "Stationery"),
    ("DEMO-O-0004", "DEMO-0003", 33, "310.00", "Home"),
    ("DEMO-O-0005", "DEMO-0003", 5, "64.20", "Gifts"),
    ("DEMO-O-0006", "DEMO-0004", 18, "23.75", "Toys"),
    ("DEMO-O-0007", "DEMO-0005", 2, "199.00", "Home"),
)


def _last_friday(now: dt.datetime) -> dt.datetime:
    local = timezone.localtime(now)
    back = (local.isoweekday() - 5) % 7 or 7  # strictly before today
    return (local - dt.timedelta(days=back)).replace(hour=14, minute=5, second=0, microsecond=0)


def _item(category: str, total: str) -> dict:
    sku = f"SKU-{category.upper()}"
    return {"sku": sku, "quantity": 1, "unit_price": total, "category": category}


def _orders(actor: Actor, now: dt.datetime) -> int:
    for order_id, member, days_ago, total, category in ORDERS:
        placed_at = _last_friday(now) if days_ago is None else now - dt.timedelta(days=days_ago)
        amount = Decimal(total)
        order_record_by_external_id(
            order_id=order_id,
            member_external_id=member,
            placed_at=placed_at,
            currency="GBP",
            total=amount,
            items=[_item(category, total)],
            channel="web",
            actor=actor,
        )
    return len(ORDERS)


def _richest(count: int) -> list[Member]:
    """Imported customers with the most available points (they can afford rewards)."""
    ids = (
        Account.objects.filter(member__status=Member.Status.ACTIVE, available__gte=600)
        .exclude(member__external_id__startswith="DEMO-")
        .order_by(F("available").desc(), "member_id")
        .values_list("member_id", flat=True)[:count]
    )
    return list(Member.objects.filter(pk__in=list(ids)).order_by("pk"))


def _redemptions(actor: Actor) -> int:
    made = 0
    for n, member in enumerate(_richest(4)):
        code = "FREE_SHIPPING" if n % 2 else "FIVE_OFF"
        redemption = redemption_create(member=member, reward_code=code, actor=actor).redemption
        made += 1
        if n == 0:
            redemption_use(redemption=redemption, order_id=f"DEMO-USED-{member.pk}", actor=actor)
        elif n == 1:
            redemption_cancel(redemption=redemption, actor=actor, reason="demo: changed mind")
    return made


def _adjustments(now: dt.datetime) -> int:
    agent = get_user_model().objects.filter(username="customerservice").first()
    if agent is None:
        return 0
    actor = Actor.staff(agent)
    ada = Member.objects.get(external_id="DEMO-0001")
    adjustment_request(member=ada, points=50, reason="demo: late delivery", actor=actor, now=now)
    top = _richest(1)
    if top:  # over the agent's limit: held for a supervisor
        adjustment_request(
            member=top[0], points=1500, reason="demo: goodwill after a lost parcel", actor=actor
        )
    return 2


def demo_activity_ensure(*, now: dt.datetime | None = None) -> str:
    """Create the demo activity once; returns a line for `load_demo`'s output."""
    from loyalty.models import Order

    if Order.objects.filter(order_id=MARKER).exists():
        return "Demo activity: already there."
    now = now or timezone.now()
    actor = Actor.system("load_demo")
    orders = _orders(actor, now)
    for external_id in ("DEMO-0001", "DEMO-0003"):
        member = Member.objects.get(external_id=external_id)
        reference = f"demo-review-{external_id}"
        activity_record(member=member, type="review", reference=reference, actor=actor, now=now)
    redemptions = _redemptions(actor)
    adjustments = _adjustments(now)
    return (
        f"Demo activity: {orders} orders of the named demo members, 2 reviews, "
        f"{redemptions} redemptions, {adjustments} adjustments (one waits for a supervisor)."
    )
