"""Referrals, "give X, get Y": the new member (referee) gets X on sign-up or first order; the
referrer gets Y once the referee's first order is no longer pending (its return window passed and
it was not refunded in full).

Fraud rules: no self-referral (the same email, compared without case, dots in Gmail-style local
parts and `+tags`, or the same phone digits); at most `monthly_referral_limit` rewarded referrals
per referrer per calendar month (later ones are rejected with the reason kept).
"""

from __future__ import annotations

import datetime as dt
import re

from django.db import transaction
from django.utils import timezone

from campaigns.models import Campaign, Referral
from campaigns.services.awards import award_grant, campaigns_live
from loyalty.selectors.program import program_settings
from loyalty.services.ledger import account_lock
from loyalty.services.outbox import EventType, member_event
from members.actors import Actor
from members.models import Member


def email_identity(email: str | None) -> str:
    """The mailbox an address delivers to: lower case, no +tag, no dots in the local part."""
    if not email or "@" not in email:
        return ""
    local, domain = email.lower().rsplit("@", 1)
    local = local.split("+", 1)[0].replace(".", "")
    return f"{local}@{domain}"


def phone_identity(phone: str | None) -> str:
    digits = re.sub(r"\D", "", phone or "")
    return digits[-9:] if len(digits) >= 9 else ""


def is_self_referral(referrer: Member, referee: Member) -> bool:
    if referrer.pk == referee.pk:
        return True
    same_email = email_identity(referrer.email) and email_identity(
        referrer.email
    ) == email_identity(referee.email)
    same_phone = phone_identity(referrer.phone) and phone_identity(
        referrer.phone
    ) == phone_identity(referee.phone)
    return bool(same_email or same_phone)


def _live_referral_campaign(at: dt.datetime) -> Campaign | None:
    return campaigns_live(kind=Campaign.Kind.REFERRAL, at=at).first()


def referral_enrolled(*, member: Member, actor: Actor) -> Referral | None:
    """A member enrolled with a referral code: open the referral; X now if given on sign-up."""
    referrer = member.referred_by
    if referrer is None:
        return None
    now = timezone.now()
    campaign = _live_referral_campaign(now)
    referral = Referral.objects.create(
        referrer=referrer, referee=member, campaign=campaign, created_at=now
    )
    if campaign is None:
        return _reject(referral, "no referral campaign running")
    if is_self_referral(referrer, member):
        return _reject(referral, "self-referral (same email or phone)")
    if campaign.referee_trigger == Campaign.RefereeTrigger.SIGNUP and campaign.referee_points:
        award_grant(
            campaign=campaign,
            member=member,
            points=campaign.referee_points,
            reference="referral:referee",
            actor=actor,
            description=f"{campaign.name}: welcome from {referrer.referral_code}",
            gift=False,  # the campaign's gift is the referrer's
        )
    return referral


def _reject(referral: Referral, reason: str) -> Referral:
    referral.status = Referral.Status.REJECTED
    referral.reason = reason
    referral.decided_at = timezone.now()
    referral.save(update_fields=["status", "reason", "decided_at"])
    return referral


def referral_first_order(*, order, member: Member, actor: Actor) -> None:
    """The referee's first order: remember it; X now if given on first order."""
    referral = (
        Referral.objects.select_related("campaign")
        .filter(referee=member, status=Referral.Status.PENDING, first_order__isnull=True)
        .first()
    )
    if referral is None:
        return
    Referral.objects.filter(pk=referral.pk).update(first_order=order)
    campaign = referral.campaign
    if (
        campaign
        and campaign.referee_trigger == Campaign.RefereeTrigger.FIRST_ORDER
        and campaign.referee_points
    ):
        award_grant(
            campaign=campaign,
            member=member,
            points=campaign.referee_points,
            reference="referral:referee",
            actor=actor,
            description=f"{campaign.name}: first order {order.order_id}",
            gift=False,  # the campaign's gift is the referrer's
        )


def referrals_reward_due(*, as_of, cutoff: dt.datetime, actor: Actor) -> int:
    """Daily step: reward referrers whose referee's first order has cleared its pending period."""
    # Points on an order are pending for `pending_days` after it was placed (the return window).
    cleared_before = cutoff - dt.timedelta(days=program_settings().pending_days)
    due = (
        Referral.objects.select_related("campaign", "referrer", "first_order")
        .filter(status=Referral.Status.PENDING, first_order__isnull=False)
        .filter(first_order__placed_at__lte=cleared_before)
        .order_by("pk")
    )
    return sum(
        _reward_referrer(referral, cutoff=cutoff, actor=actor)
        for referral in due.iterator(chunk_size=200)
    )


def _reward_referrer(referral: Referral, *, cutoff: dt.datetime, actor: Actor) -> int:
    order = referral.first_order
    campaign = referral.campaign
    with transaction.atomic():
        account_lock(member_id=referral.referrer_id)  # the fixed order: account first
        locked = Referral.objects.select_for_update().get(pk=referral.pk)
        if locked.status != Referral.Status.PENDING:
            return 0
        if order.refunded_total >= order.eligible_in_order_currency:
            _reject(locked, "first order refunded in full")
            return 0
        month_start = timezone.localtime(cutoff).replace(
            day=1, hour=0, minute=0, second=0, microsecond=0
        )
        if campaign.monthly_referral_limit is not None:
            this_month = Referral.objects.filter(
                referrer=referral.referrer,
                status=Referral.Status.REWARDED,
                decided_at__gte=month_start,
            ).count()
            if this_month >= campaign.monthly_referral_limit:
                _reject(locked, "referrer's monthly referral limit reached")
                return 0
        award, reason = award_grant(
            campaign=campaign,
            member=referral.referrer,
            points=campaign.referrer_points,
            reference=f"referral:{referral.referee_id}",
            actor=actor,
            description=f"{campaign.name}: a friend's first order",
        )
        rewarded = award is not None or reason is None  # None: a gift-only referrer reward
        locked.status = Referral.Status.REWARDED if rewarded else Referral.Status.REJECTED
        locked.reason = "" if rewarded else (reason or "")
        locked.decided_at = cutoff if cutoff < timezone.now() else timezone.now()
        locked.save(update_fields=["status", "reason", "decided_at"])
        if rewarded:
            # The referrer's event; nothing of the friend's (their id would be someone else's).
            member_event(
                type=EventType.REFERRAL_COMPLETED,
                member=referral.referrer,
                payload={"referral_id": locked.pk, "points": award.points if award else 0},
            )
    return 1 if rewarded else 0
