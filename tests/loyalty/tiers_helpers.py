"""Helpers for the tier tests (plain functions; fixtures stay in the test modules)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from loyalty.models import Order, TierChange
from loyalty.services.program import program_settings_update
from loyalty.services.tiers import tier_for_order
from members.actors import Actor


def held(member) -> str:
    """The code of the tier the member holds now (what an order would earn at)."""
    return tier_for_order(member_id=member.pk)[0]


def changes(member) -> list[tuple]:
    """The member's tier history, oldest first: (from, to, kind, qualifying spend, note)."""
    return [
        (
            c.from_tier.code if c.from_tier else None,
            c.to_tier.code if c.to_tier else None,
            c.kind,
            c.qualifying_spend,
            c.note,
        )
        for c in TierChange.objects.filter(member=member)
        .select_related("from_tier", "to_tier")
        .order_by("at", "pk")
    ]


def settings_set(**changes):
    return program_settings_update(actor=Actor.system("tests"), **changes)


def order_row(member, order_id: str, amount: str, *, placed_at: dt.datetime) -> Order:
    """An order as the bulk import leaves it before any tier evaluation (no tier change, no
    postings): for scenarios where a member's spend is known but the order path never ran."""
    amount = Decimal(amount)
    return Order.objects.create(
        order_id=order_id,
        member=member,
        placed_at=placed_at,
        currency="GBP",
        total=amount,
        eligible_amount=amount,
        fingerprint=order_id,
        source=Order.Source.IMPORT,
        created_at=placed_at,
    )
