"""Enrolment into the program: the member is created (members app), their points account opened,
then the apps above take part (sign-up bonuses, referrals) through
`loyalty.hooks.member_enrolled_listeners`, all in one transaction, so a member never exists
without the welcome their campaigns promise.
"""

from __future__ import annotations

from django.db import transaction

from loyalty import hooks
from loyalty.services.ledger import account_open
from members.actors import Actor
from members.models import Member
from members.services import member_enrol


def program_member_enrol(*, actor: Actor, **fields) -> Member:
    """Enrol a member as the storefront does (the arguments of `members.services.member_enrol`)."""
    with transaction.atomic():
        member = member_enrol(actor=actor, **fields)
        account_open(member_id=member.pk)
        for listener in hooks.member_enrolled_listeners:
            listener(member=member, actor=actor)
    return member
