"""Tier services (owned by the tiers work, issue 4). Interface used by the order path:

- `tier_for_order(member_id=...)` -> (tier_code, multiplier): the tier held now (an override wins);
  the order earns at its multiplier.
- `tier_after_order(member_id=..., order=..., actor=...)`: upgrade at once when the order makes the
  qualifying spend cross a higher threshold. Called inside the order's transaction, under the
  member's account lock.

Until tiers exist every member is in no tier, at multiplier 1.
"""

from __future__ import annotations

from decimal import Decimal


def tier_for_order(*, member_id: int) -> tuple[str, Decimal]:
    return "", Decimal("1")


def tier_after_order(*, member_id: int, order, actor) -> None:
    return None
