"""Memberships' part in erasure (`members.erasure`): the free text of the member's charges.

Plans, periods, amounts, dates and the shop's payment references stay (a payment reference is the
payment provider's id, not the member's; the paid history stays explainable, as the ledger does).
Only a charge's `reason` (a supervisor's refund reason, staff free text that may quote the member)
and, should a shop have put one there, a personal value in its payment reference are rewritten,
with the append-only trigger ignored for those statements only (it allows text changes anyway).
"""

from __future__ import annotations

from members.erasure import ErasedMember, scrub_rows
from memberships.models import MembershipCharge


def memberships_rows_scrub(*, erasure: ErasedMember) -> int:
    return scrub_rows(
        erasure,
        MembershipCharge.objects.filter(membership__member=erasure.member),
        ("reason", "payment_reference"),
    )
