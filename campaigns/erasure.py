"""Campaigns' part in erasure (`members.erasure`): the free text of the member's referrals.

Invariant: who referred whom, the statuses and the awards never change; only text quoting a
personal value is rewritten.
"""

from __future__ import annotations

from django.db.models import Q

from campaigns.models import Referral
from members.erasure import ErasedMember, scrub_rows


def referrals_scrub(*, erasure: ErasedMember) -> int:
    member = erasure.member
    referrals = Referral.objects.filter(Q(referrer=member) | Q(referee=member))
    return scrub_rows(erasure, referrals, ("reason",))
