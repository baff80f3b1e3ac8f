"""Creating and changing plans (Marketing, from the admin); audited.

A plan is never deleted once sold (its memberships PROTECT it): it is made inactive, and the
members who hold it keep it, renewals included, at the plan's price of the day. A change of
price applies to the next payment, never to one recorded.
"""

from __future__ import annotations

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction

from loyalty.models import Perk
from members.actors import Actor
from members.services import audit_record
from memberships.models import Plan

PLAN_FIELDS = (
    "code",
    "name",
    "price",
    "currency",
    "period_months",
    "trial_days",
    "earn_multiplier",
    "grace_days",
    "refund_rule",
    "refund_days",
    "active",
)


def plan_save(
    *,
    actor: Actor,
    plan: Plan | None = None,
    perks: list[Perk] | None = None,
    code: str,
    name: str,
    price: Decimal,
    currency: str,
    period_months: int = 12,
    trial_days: int = 0,
    earn_multiplier: Decimal = Decimal("1"),
    grace_days: int = 7,
    refund_rule: str = Plan.RefundRule.FULL_IF_UNUSED,
    refund_days: int = 14,
    active: bool = True,
) -> Plan:
    """Create (`plan=None`) or update a plan and its perks. Raises `ValidationError` naming the
    field (price not above zero, a currency not of three capital letters...)."""
    data = {
        "code": code,
        "name": name,
        "price": price,
        "currency": currency,
        "period_months": period_months,
        "trial_days": trial_days,
        "earn_multiplier": earn_multiplier,
        "grace_days": grace_days,
        "refund_rule": refund_rule,
        "refund_days": refund_days,
        "active": active,
    }
    if price is not None and price <= 0:
        raise ValidationError({"price": "A plan's price is above zero."}, code="invalid")
    with transaction.atomic():
        created = plan is None
        plan = Plan() if created else Plan.objects.select_for_update().get(pk=plan.pk)
        changes = {
            name: (getattr(plan, name) if not created else None, value)
            for name, value in data.items()
            if created or getattr(plan, name) != value
        }
        for name, value in data.items():
            setattr(plan, name, value)
        plan.full_clean()
        plan.save()
        if perks is not None:
            old = sorted(plan.perks.values_list("code", flat=True))
            new = sorted(p.code for p in perks)
            if old != new:
                plan.perks.set(perks)
                changes["perks"] = (", ".join(old), ", ".join(new))
        if changes:
            audit_record(
                actor=actor,
                action="plan.create" if created else "plan.update",
                target=plan,
                changes=changes,
            )
    return plan
