"""The plan's earn multiplier on orders: a `loyalty.hooks` order bonus provider.

Rule (docs/memberships.md, "Earn multiplier"): the plan's multiplier adds to the tier's, as its
own bonus on the base points: bonus = floor(base × (plan multiplier − 1)), posted as one
`campaign_bonus` posting whose campaign code is `plan:<plan code>` (a campaign code is a slug, so
it never has a colon: the two cannot be confused). An order placed at `placed_at` earns it when
the member held the plan's perks then (`plan_held_at_q`); with several plans, the highest
multiplier counts once (plans do not add up with each other).

Invariants:
- The bonus is part of the order's `points_campaign`, so a refund reverses it by the one rule of
  `loyalty.services.orders.refund_reversal_points`, exactly as a campaign's bonus.
- Quiet without a query: the plans with a multiplier above 1 are cached per configuration version
  (`loyalty.selectors.order_path.config_cached`; every change to a plan changes the version,
  `memberships.0004_plan_config_version`). While none has one, `plan_bonuses_quiet` says so and
  the order path keeps its one-statement fast path.
- The import awards no plan bonus (history is not a campaign, `loyalty/importing/writer.py`).
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_FLOOR, Decimal

from django.db.models import Q

from loyalty.hooks import OrderBonus
from loyalty.selectors.order_path import config_cached, config_cached_get
from memberships.models import Membership, MembershipStatus, Plan

S = MembershipStatus
CODE_PREFIX = "plan:"
_PLANS_KEY = "memberships.bonus_plans"
_NONE_KEY = "memberships.bonus_plans_none"


def _bonus_plans_read() -> dict[int, Plan]:
    return {p.pk: p for p in Plan.objects.filter(earn_multiplier__gt=1).order_by("pk")}


def bonus_plans(config_version: int | None) -> dict[int, Plan]:
    """The plans whose multiplier is above 1 (active or not: members keep a plan no longer
    sold), cached under the configuration version. Shared: never modified."""
    if config_cached_get(config_version, _NONE_KEY):
        return {}
    plans = config_cached(config_version, _PLANS_KEY, _bonus_plans_read)
    if not plans:
        config_cached(config_version, _NONE_KEY, lambda: True)
    return plans


def plan_bonuses_quiet(config_version: int | None) -> bool:
    """`plan_order_bonuses`' quiet check (`loyalty.hooks`): True when "no plan has a multiplier
    above 1" is cached for this configuration version (no query)."""
    return bool(config_cached_get(config_version, _NONE_KEY))


def plan_held_at_q(at: dt.datetime) -> Q:
    """Memberships that held their plan's perks at `at`: started by then and not ended: trialing
    or active (a period that ran out waits for the daily step, perks kept), past due until its
    grace's end, cancelled until its end, expired or refunded until they ended."""
    return Q(started_at__lte=at) & (
        Q(status__in=[S.TRIALING, S.ACTIVE])
        | Q(status=S.PAST_DUE, grace_until__gt=at)
        | Q(status=S.CANCELLED, ends_at__gt=at)
        | Q(status__in=[S.EXPIRED, S.REFUNDED], ended_at__gt=at)
    )


def plan_bonus_points(*, base_points: int, multiplier: Decimal) -> int:
    return max(int((base_points * (multiplier - 1)).to_integral_value(ROUND_FLOOR)), 0)


def plan_order_bonuses(*, order, member, base_points, settings, actor) -> list[OrderBonus]:
    """`loyalty.hooks` order bonus provider: the bonus of the best plan held at `placed_at`.
    No query unless some plan has a multiplier above 1; then one."""
    plans = bonus_plans(getattr(order, "_config_version", None))
    if not plans or base_points <= 0:
        return []
    held = (
        Membership.objects.filter(plan_held_at_q(order.placed_at), member_id=member.pk)
        .filter(plan_id__in=list(plans))
        .values_list("plan_id", flat=True)
    )
    best = max((plans[pk] for pk in held), key=lambda p: (p.earn_multiplier, -p.pk), default=None)
    if best is None:
        return []
    points = plan_bonus_points(base_points=base_points, multiplier=best.earn_multiplier)
    if points <= 0:
        return []
    return [
        OrderBonus(
            campaign_code=f"{CODE_PREFIX}{best.code}",
            points=points,
            description=f"{best.name} (×{best.earn_multiplier}) on order {order.order_id}",
        )
    ]
