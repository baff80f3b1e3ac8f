"""Erasure and the subject-access export of member messages.

The log stores no body. Its rendered subject may hold the member's name or another value of
theirs ("Ada, welcome to ..."), and for a member erased before this scrubber existed not every
former value is known (their first name may be in no audit entry): the subject is blanked whole.
The rest of the row (kind, key, params, dates, status) stays as the record of what was sent; the
subject can be re-rendered from it if needed, without the name. A suppressed address that
was the member's is deleted: an erased member gets nothing anyway, and the address is personal.
"""

from __future__ import annotations

from members.access import rows
from messaging.models import MessageLog, OptOut, Suppression


def messages_scrub(*, erasure) -> int:
    member = erasure.member
    changed = MessageLog.objects.filter(member_id=member.pk).exclude(subject="").update(subject="")
    emails = [value for value in erasure.values if "@" in value]
    deleted, _ = Suppression.objects.filter(address__in=[e.lower() for e in emails]).delete()
    return changed + deleted


def messages_section(*, member) -> dict:
    """The member's messages (without bodies, which are not kept) and opt-outs."""
    return {
        "messages": rows(
            MessageLog.objects.filter(member=member).order_by("requested_at", "pk"),
            ["kind", "subject_key", "locale", "subject", "status", "requested_at", "sent_at"],
        ),
        "opt_outs": rows(
            OptOut.objects.filter(member=member).order_by("created_at", "pk"),
            ["kind", "created_at"],
        ),
    }
