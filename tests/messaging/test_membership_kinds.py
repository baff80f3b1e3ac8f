"""The paid membership's renewal reminder: N days before the period ends, once per period, in the
member's language; not for a membership that will not renew."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core import mail

from memberships.services import membership_cancel, membership_renew, membership_start
from messaging.models import KindSetting, MessageLog
from messaging.templates_admin import kind_setting_update

pytestmark = pytest.mark.django_db
STARTED = dt.datetime(2026, 1, 1, 10, 0, tzinfo=dt.UTC)  # monthly: renews 1 Feb 2026
REMIND_ON = dt.date(2026, 1, 25)  # the default: 7 days before


def _join(member, actor, *, ref="pay-1"):
    return membership_start(
        member=member, plan_code="plus", payment_reference=ref, actor=actor, now=STARTED
    )


def test_the_reminder_goes_7_days_before_once_per_period(member, plan, daily, system_actor):
    membership = _join(member, system_actor)

    assert daily(REMIND_ON - dt.timedelta(days=1)) == 0
    assert daily(REMIND_ON) == 1
    assert daily(REMIND_ON) == 0  # the same day again: nothing new

    email = mail.outbox[0]
    assert email.to == [member.email]
    assert email.subject == "Your Plus membership renews on 1 Feb 2026"
    assert email.body.split("\n\n")[:2] == [
        "Hello Ada,",
        "Your Plus membership renews on 1 Feb 2026, in 7 days, for £12.00. Nothing to do if "
        "you want to keep your benefits; to stop it, cancel before then in your account at "
        "Loyalty Club.",
    ]
    log = MessageLog.objects.get(kind="membership_renewal")
    assert log.subject_key == f"{membership.pk}/2026-02-01/7d"

    # renewed: the next period (to 1 March) has its own reminder
    membership_renew(
        membership=membership, payment_reference="pay-2", actor=system_actor, now=STARTED
    )
    assert daily(dt.date(2026, 2, 22)) == 1
    assert MessageLog.objects.filter(kind="membership_renewal").count() == 2


def test_the_reminder_in_chinese(make_member, plan, daily, system_actor):
    member = make_member(first_name="小红", locale="zh-hans")
    _join(member, system_actor)

    daily(REMIND_ON)

    email = mail.outbox[0]
    assert email.subject == "您的Plus会员将于 2026年2月1日 续费"
    assert email.body.split("\n\n")[1].startswith(
        "您的Plus会员将于 2026年2月1日（7 天后）续费，费用为 £12.00。"
    )


def test_no_reminder_for_a_membership_that_will_not_renew(member, plan, daily, system_actor):
    membership = _join(member, system_actor)
    membership_cancel(membership=membership, at_period_end=True, actor=system_actor, now=STARTED)

    assert daily(REMIND_ON) == 0


def test_the_days_before_are_marketings_to_change(member, make_plan, daily, system_actor):
    make_plan(price=Decimal("99.00"), period_months=12)
    _join(member, system_actor)  # renews 1 Jan 2027
    setting = KindSetting.objects.get(kind="membership_renewal")
    kind_setting_update(actor=system_actor, setting=setting, enabled=True, days="30,3")

    assert daily(dt.date(2026, 12, 2)) == 1
    assert daily(dt.date(2026, 12, 29)) == 1
    keys = sorted(MessageLog.objects.values_list("subject_key", flat=True))
    assert [k.split("/", 1)[1] for k in keys] == ["2027-01-01/30d", "2027-01-01/3d"]
