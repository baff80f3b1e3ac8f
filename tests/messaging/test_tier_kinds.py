"""Tier upgraded, at risk and downgraded: who gets them, the exact text, sent once."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail
from django.utils import timezone

from loyalty.demo import demo_tiers_ensure
from loyalty.services.tiers import tier_evaluate_all
from messaging.models import MessageLog
from messaging.services import opt_out_record
from tests.loyalty.conftest import T0
from tests.loyalty.tiers_helpers import settings_set

pytestmark = pytest.mark.django_db
DAY = dt.timedelta(days=1)


@pytest.fixture
def ladder(db, system_actor):
    return demo_tiers_ensure(actor=system_actor)


def test_upgrade_congratulates_once_with_the_perks(ladder, member, record_order, daily):
    record_order(member, "O-1", "300.00", placed_at=T0)  # Silver from T0

    assert daily(timezone.localdate(T0)) == 1
    assert daily(timezone.localdate(T0) + DAY) == 0  # the next day's run: already told

    email = mail.outbox[0]
    assert email.subject == "Congratulations: you are now Silver"
    assert email.body.split("\n\n")[:2] == [
        "Hello Ada,",
        "Since 5 Jan 2026 you are a Silver member of Loyalty Club. "
        "Your perks: Birthday gift, Free shipping.",
    ]
    log = MessageLog.objects.get()
    assert (log.kind, log.params["tier"]) == ("tier_upgraded", "silver")


def test_upgrade_in_chinese(ladder, make_member, record_order, daily):
    member = make_member(first_name="小明", locale="zh-hans")
    record_order(member, "O-1", "600.00", placed_at=T0)  # Gold

    daily(timezone.localdate(T0))

    email = mail.outbox[0]
    assert email.subject == "恭喜您升级为Gold"
    assert email.body.split("\n\n")[1] == (
        "自 2026年1月5日 起，您已成为Loyalty Club的Gold会员。"
        "您的权益：Birthday gift、Early access to sales、Free shipping。"
    )


def test_opted_out_of_tier_messages_gets_none(ladder, member, record_order, daily, system_actor):
    opt_out_record(member_id=member.pk, kind="tier_upgraded", actor=system_actor)
    record_order(member, "O-1", "300.00", placed_at=T0)

    assert daily(timezone.localdate(T0)) == 0
    assert mail.outbox == []


def test_at_risk_30_days_before_the_hold_ends(ladder, member, record_order, daily):
    record_order(member, "O-1", "300.00", placed_at=T0)  # Silver, held 365 days from T0
    hold_ends = timezone.localdate(T0 + 365 * DAY)

    assert daily(hold_ends - 31 * DAY) == 0
    assert daily(hold_ends - 30 * DAY) == 1
    assert daily(hold_ends - 30 * DAY) == 0

    at_risk = MessageLog.objects.get(kind="tier_at_risk")
    assert at_risk.subject_key == "silver/2027-01-05"
    email = mail.outbox[-1]
    assert email.subject == "Keep your Silver tier"
    assert email.body.split("\n\n")[1].startswith("Your Silver tier is held until 5 Jan 2027. ")


def test_no_risk_when_the_spend_still_counts_at_the_hold_end(ladder, member, record_order, daily):
    record_order(member, "O-1", "300.00", placed_at=T0)
    hold_ends = timezone.localdate(T0 + 365 * DAY)
    record_order(member, "O-2", "300.00", placed_at=T0 + 200 * DAY)  # counts until T0+565

    daily(hold_ends - 30 * DAY)

    assert MessageLog.objects.filter(kind="tier_at_risk").count() == 0


def test_downgrade_is_told(ladder, member, record_order, daily):
    settings_set(tier_hold_days=400)
    record_order(member, "O-1", "300.00", placed_at=T0)
    day = dt.date(2027, 2, 10)
    assert tier_evaluate_all(as_of=day) == 1

    daily(day)

    downgrade = MessageLog.objects.get(kind="tier_downgraded")
    assert downgrade.params["tier"] == "member"
    email = next(e for e in mail.outbox if e.subject.startswith("Your tier is now"))
    assert email.subject == "Your tier is now Member"
    assert email.body.split("\n\n")[1] == (
        "Since 10 Feb 2027 your Loyalty Club tier is Member. Your perks: Birthday gift."
    )


def test_at_risk_on_an_orders_ladder_counts_orders(make_member, record_order, daily, system_actor):
    # given: an orders ladder (Silver at 2); two members reach Silver with 2 orders at T0; the
    # second has 2 more orders loaded later (no order path: the hold is not renewed), which
    # still count when the hold ends
    from tests.loyalty.test_tier_metric import ladder_make
    from tests.loyalty.tiers_helpers import order_row

    ladder_make(system_actor, "orders", ["2", "3", "5"])
    member, other = make_member(first_name="Ada"), make_member(first_name="Bo")
    for m in (member, other):
        record_order(m, None, "10.00", placed_at=T0 - DAY)
        record_order(m, None, "10.00", placed_at=T0)
    order_row(other, "LATE-1", "10.00", placed_at=T0 + 200 * DAY)
    order_row(other, "LATE-2", "10.00", placed_at=T0 + 210 * DAY)
    hold_ends = timezone.localdate(T0 + 365 * DAY)

    # when: 30 days before the hold ends
    daily(hold_ends - 30 * DAY)

    # then: only the member whose orders will have left the window by then is told
    at_risk = MessageLog.objects.get(kind="tier_at_risk")
    assert (at_risk.member_id, at_risk.subject_key) == (member.pk, "silver/2027-01-05")
