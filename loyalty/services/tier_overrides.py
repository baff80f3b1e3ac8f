"""Staff overrides of a member's tier (`docs/tiers.md`, "Overrides"): placed until a date with a
reason, audited, written to the tier history with a `tier.changed` event.

Invariants: the member's account lock is taken first (`account_lock`), as by every writer of a
member's tier; an override wins over the earned tier while it lasts (the order path and the daily
evaluation read it so); ending one early writes the history too.
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from config.errors import ServiceError
from loyalty.models import MemberTier, Tier, TierChange
from loyalty.services.ledger import account_lock
from loyalty.services.outbox import tier_changed
from members.actors import Actor
from members.models import Member
from members.services import audit_record


def _entry_tier() -> Tier:
    entry = Tier.objects.order_by("rank").first()
    if entry is None:
        raise ServiceError("no_tiers", gettext("No tier is configured yet."))
    return entry


def tier_override(
    *, member: Member, tier: Tier, until: dt.date, reason: str, actor: Actor
) -> MemberTier:
    """Place the member in `tier` through `until` (inclusive), whatever they earn; audited.

    Replaces an override already in place. Raises `validation_error` for a past date or an empty
    reason, `member_erased` for an erased member.
    """
    reason = (reason or "").strip()
    if not reason:
        raise ServiceError(
            "validation_error",
            gettext("Give a reason for the override."),
            status=400,
            field="reason",
        )
    today = timezone.localdate()
    if until < today:
        raise ServiceError(
            "validation_error",
            gettext("The override must end today or later."),
            status=400,
            field="until",
        )
    if member.is_erased:
        raise ServiceError(
            "member_erased", gettext("This member's data has been erased."), status=410
        )
    now = timezone.now()
    with transaction.atomic(durable=True):
        account_lock(member_id=member.pk)
        row = _row_for_update(member=member)
        before = _effective(row, today)
        old = (row.override_tier.code if row.override_tier else None, row.override_until)
        row.override_tier = tier
        row.override_until = until
        row.override_reason = reason[:500]
        row.override_by = actor.label[:150]
        row.override_at = now
        row.save()
        TierChange.objects.create(
            **actor.as_fields(),
            member=member,
            from_tier=before,
            to_tier=tier,
            kind=TierChange.Kind.OVERRIDE,
            at=now,
            note=f"Until {until.isoformat()}: {reason}"[:500],
        )
        tier_changed(
            member_id=member.pk,
            member=member,
            from_tier=before,
            to_tier=tier,
            direction="override",
            at=now,
        )
        audit_record(
            actor=actor,
            action="tier.override",
            target=row,
            member=member,
            reason=reason,
            changes={
                "override_tier": (old[0], tier.code),
                "override_until": (old[1], until),
            },
        )
    return row


def tier_override_end(*, member: Member, reason: str, actor: Actor) -> MemberTier | None:
    """End the member's override now; they hold their earned tier again. Audited."""
    reason = (reason or "").strip()
    if not reason:
        raise ServiceError(
            "validation_error", gettext("Give a reason for ending the override."), field="reason"
        )
    now = timezone.now()
    with transaction.atomic(durable=True):
        account_lock(member_id=member.pk)
        row = MemberTier.objects.filter(member_id=member.pk).first()
        if row is None or row.override_tier_id is None:
            return row
        old_tier, old_until = row.override_tier, row.override_until
        MemberTier.objects.filter(member_id=member.pk).update(
            override_tier=None,
            override_until=None,
            override_reason="",
            override_by="",
            override_at=None,
        )
        TierChange.objects.create(
            **actor.as_fields(),
            member=member,
            from_tier=old_tier,
            to_tier=row.tier,
            kind=TierChange.Kind.OVERRIDE,
            at=now,
            note=f"Override ended early: {reason}"[:500],
        )
        tier_changed(
            member_id=member.pk,
            member=member,
            from_tier=old_tier,
            to_tier=row.tier,
            direction="override",
            at=now,
        )
        audit_record(
            actor=actor,
            action="tier.override_end",
            target=row,
            member=member,
            reason=reason,
            changes={"override_tier": (old_tier.code, None), "override_until": (old_until, None)},
        )
        row.refresh_from_db()
    return row


def _row_for_update(*, member: Member) -> MemberTier:
    """The member's row (caller holds the account lock), created in the entry tier if missing."""
    row = MemberTier.objects.select_related("tier", "override_tier").filter(member=member).first()
    if row is None:
        row = MemberTier.objects.create(
            member=member,
            tier=_entry_tier(),
            since=member.enrolled_at,
            qualified_at=member.enrolled_at,
        )
    return row


def _effective(row: MemberTier, today: dt.date) -> Tier:
    if row.override_tier_id is not None and row.override_until >= today:
        return row.override_tier
    return row.tier
