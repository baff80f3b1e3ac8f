"""Rewards' part in erasure (`members.erasure`): staff's free text on the member's redemptions.

Invariant: coupon codes, points, values and statuses never change; only text quoting a personal
value is rewritten.
"""

from __future__ import annotations

from members.erasure import ErasedMember, scrub_rows
from rewards.models import Redemption


def redemptions_scrub(*, erasure: ErasedMember) -> int:
    return scrub_rows(erasure, Redemption.objects.filter(member=erasure.member), ("cancel_reason",))
