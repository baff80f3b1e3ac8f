"""The "birthday gift" perk's gift: Marketing says which reward a perk of that kind gives
(`PerkGift`, audited), and the daily step gives it.

`birthday_gifts_daily` (a `loyalty.hooks` daily step, after loyalty's own and the campaigns'):
on a member's birthday (29 February: 28 February in other years, as the birthday campaign), a
coupon of the configured reward to each active member who holds a birthday-gift perk then:
through their tier (an active override wins, no tier row: the entry tier), a paid plan holding
its perks, or a club. Once per member and year whatever the number of such perks (the first
perk by code decides the reward): the gift's key is `perk:birthday_gift:<member id>:<year>`,
so a second run, or two machines, give it once (`rewards.services.gifts`).

Set-based: one query per configured perk finds the members (their birthday, their status, and
whether they hold the perk: EXISTS over tiers, memberships and clubs, and NOT EXISTS their gift
of the year); then each gift is its own short transaction, batch after batch.
"""

from __future__ import annotations

import calendar as cal
import datetime as dt

from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from loyalty.models import MemberTier, Perk, Tier
from members.actors import Actor
from members.models import Member
from members.services import audit_record
from rewards.models import PerkGift, Redemption, Reward
from rewards.services.gifts import gift_grant

CAUSE = "perk:birthday_gift"
BATCH = 500


def perk_gift_save(
    *, actor: Actor, perk: Perk, reward: Reward, perk_gift: PerkGift | None = None
) -> PerkGift:
    """Set which reward a birthday-gift perk gives (create or change), audited."""
    with transaction.atomic():
        created = perk_gift is None
        before = None if created else (perk_gift.perk.code, perk_gift.reward.code)
        perk_gift = perk_gift or PerkGift()
        perk_gift.perk, perk_gift.reward = perk, reward
        perk_gift.full_clean()
        perk_gift.save()
        audit_record(
            actor=actor,
            action="perk_gift.create" if created else "perk_gift.change",
            target=perk_gift,
            changes={
                "perk": (before[0] if before else None, perk.code),
                "reward": (before[1] if before else None, reward.code),
            },
        )
    return perk_gift


def perk_gift_delete(*, actor: Actor, perk_gift: PerkGift) -> None:
    with transaction.atomic():
        audit_record(
            actor=actor,
            action="perk_gift.delete",
            target=perk_gift,
            changes={"perk": (perk_gift.perk.code, None), "reward": (perk_gift.reward.code, None)},
        )
        perk_gift.delete()


def birthday_q(day: dt.date) -> Q:
    q = Q(birth_date__month=day.month, birth_date__day=day.day)
    if day.month == 2 and day.day == 28 and not cal.isleap(day.year):
        q |= Q(birth_date__month=2, birth_date__day=29)
    return q


def holds_perk_q(perk: Perk, *, today: dt.date, now: dt.datetime) -> Q:
    """Members who hold `perk` now: by tier (an active override wins; no row: the entry tier),
    by a paid plan holding its perks, or by a club."""
    from memberships.models import Membership
    from memberships.selectors import holding_perks_q
    from segments.models import ClubMembership

    tiers = list(Tier.objects.filter(perks=perk).values_list("pk", flat=True))
    entry = Tier.objects.order_by("rank").values_list("pk", flat=True).first()
    overridden = Q(override_tier__isnull=False, override_until__gte=today)
    by_tier = Exists(
        MemberTier.objects.filter(member=OuterRef("pk")).filter(
            (overridden & Q(override_tier_id__in=tiers)) | (~overridden & Q(tier_id__in=tiers))
        )
    )
    q = Q(by_tier)
    if entry is not None and entry in tiers:
        q |= ~Exists(MemberTier.objects.filter(member=OuterRef("pk")))
    q |= Exists(
        Membership.objects.filter(holding_perks_q(now), member=OuterRef("pk"), plan__perks=perk)
    )
    q |= Exists(ClubMembership.objects.filter(member=OuterRef("pk"), club__perks=perk))
    return q


def gift_key(*, member_id: int, year: int) -> str:
    return f"{CAUSE}:{member_id}:{year}"


def birthday_gifts_daily(*, as_of: dt.date, cutoff: dt.datetime, actor: Actor) -> int:
    """The daily step: birthday gifts for `as_of`; how many were given."""
    given = 0
    now = timezone.now()
    year_start = timezone.make_aware(dt.datetime.combine(dt.date(as_of.year, 1, 1), dt.time()))
    for config in PerkGift.objects.select_related("perk", "reward").order_by("perk__code"):
        if config.perk.kind != Perk.Kind.BIRTHDAY_GIFT:
            continue
        members = (
            Member.objects.filter(birthday_q(as_of), status=Member.Status.ACTIVE)
            .filter(holds_perk_q(config.perk, today=as_of, now=now))
            .exclude(  # given this year already (the key decides; this only skips the obvious)
                Exists(
                    Redemption.objects.filter(
                        member=OuterRef("pk"), gift_cause=CAUSE, created_at__gte=year_start
                    )
                )
            )
            .order_by("pk")
        )
        for member in members.iterator(chunk_size=BATCH):
            result = gift_grant(
                member=member,
                reward=config.reward,
                cause=CAUSE,
                key=gift_key(member_id=member.pk, year=as_of.year),
                actor=actor,
                now=now,
            )
            given += 1 if result.created else 0
    return given
