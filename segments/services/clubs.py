"""Clubs: members join and leave (the API, the admin), idempotently; audited.

Invariants:
- A member is in a club once (a unique constraint); joining twice answers the same membership,
  leaving a club one is not in does nothing.
- A club's join rules (a condition tree, `segments.conditions`) are checked when joining, as of
  that moment: a member who no longer meets them later stays in (the rules gate the door).
- An erased member joins nothing; a closed club (`is_active` false) takes no one new.
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from config.errors import ServiceError
from members.actors import Actor
from members.models import Member
from members.services import audit_record
from segments.models import Club, ClubMembership
from segments.selectors.segments import conditions_members


def club_save(*, club: Club, actor: Actor, perks=None) -> Club:
    """Create or change a club (and its perks when given); audited."""
    from segments.conditions import conditions_validate

    rules = club.join_rules or {}
    club.join_rules = conditions_validate(rules) if rules else {}
    with transaction.atomic():
        created = club.pk is None
        club.save()
        if perks is not None:
            club.perks.set(perks)
        audit_record(actor=actor, action="club.create" if created else "club.change", target=club)
    return club


def club_join_refusal(
    *, member: Member, club: Club, now: dt.datetime | None = None
) -> ServiceError | None:
    """Why the member may not join the club now (`club_closed`, `club_rules_not_met`), or None.
    A read: the admin's form asks it to show the reason beside the field."""
    if not club.is_active:
        return ServiceError("club_closed", gettext("This club takes no new members."))
    rules = club.join_rules or {}
    has_rules = bool(rules.get("all") or rules.get("any") or "field" in rules)
    if has_rules and not conditions_members(rules, now=now).filter(pk=member.pk).exists():
        return ServiceError(
            "club_rules_not_met", gettext("The member does not meet the club's rules.")
        )
    return None


def club_join(
    *, member: Member, club: Club, actor: Actor, now: dt.datetime | None = None
) -> tuple[ClubMembership, bool]:
    """(membership, created). Errors: `member_erased` 410, `club_closed` and `club_rules_not_met`
    422."""
    now = now or timezone.now()
    if member.is_erased:
        raise ServiceError(
            "member_erased", gettext("This member's data has been erased."), status=410
        )
    with transaction.atomic():
        existing = ClubMembership.objects.filter(member=member, club=club).first()
        if existing is not None:
            return existing, False
        refusal = club_join_refusal(member=member, club=club, now=now)
        if refusal is not None:
            raise refusal
        membership, created = ClubMembership.objects.get_or_create(
            member=member, club=club, defaults={"joined_at": now}
        )
        if created:
            audit_record(actor=actor, action="club.join", target=club, member=member)
    return membership, created


def club_leave(*, member: Member, club: Club, actor: Actor) -> bool:
    """Whether the member was in the club (and now is not)."""
    with transaction.atomic():
        deleted, _ = ClubMembership.objects.filter(member=member, club=club).delete()
        if deleted:
            audit_record(actor=actor, action="club.leave", target=club, member=member)
    return bool(deleted)
