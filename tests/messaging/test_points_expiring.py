"""Points expiring: who gets the reminder, its exact text in both languages, exactly once."""

from __future__ import annotations

import pytest
from django.core import mail

from events.models import Event, MemberEventCounter
from members.actors import Actor
from members.services import member_erase, member_set_status
from messaging.models import MessageLog, MessageStatus
from messaging.services import opt_out_record, suppression_record
from tests.messaging.conftest import DAY_7, DAY_30

pytestmark = pytest.mark.django_db


def test_reminder_30_days_before_in_english(member, award, daily):
    # given Ada has 1,250 points expiring on 1 March 2027
    award(member, 1000)
    award(member, 250)

    # when the daily step runs 30 days before
    requested = daily(DAY_30)

    # then one message, with the exact text
    assert requested == 1
    assert len(mail.outbox) == 1
    email = mail.outbox[0]
    assert email.to == ["ada@example.com"]
    assert email.subject == "Your 1,250 points expire on 1 Mar 2027"
    link = email.extra_headers["List-Unsubscribe"][1:-1]
    assert link.startswith("http://localhost:8000/messages/unsubscribe/")
    assert email.body == (
        "Hello Ada,\n\n"
        "1,250 of your Loyalty Club points expire on 1 Mar 2027, in 30 days. "
        "Use them before then.\n\n"
        f"Stop these messages: {link}\n"
    )
    assert email.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    html, mimetype = email.alternatives[0]
    assert mimetype == "text/html"
    assert html.startswith("<p>Hello Ada,</p>\n<p>1,250 of your Loyalty Club points")
    log = MessageLog.objects.get()
    assert (log.kind, log.subject_key, log.locale, log.status) == (
        "points_expiring",
        "2027-03-01/30d",
        "en",
        MessageStatus.SENT,
    )
    assert log.subject == "Your 1,250 points expire on 1 Mar 2027"
    assert log.template_version == 1
    assert log.provider_id == email.extra_headers["Message-ID"]
    assert log.params == {"points": 1250, "expiry_date": "2027-03-01", "days_before": 30}


def test_reminder_in_simplified_chinese(make_member, award, daily):
    member = make_member(first_name="小明", locale="zh-hans")
    award(member, 1250)

    daily(DAY_7)

    email = mail.outbox[0]
    link = email.extra_headers["List-Unsubscribe"][1:-1]
    assert email.subject == "您的 1,250 积分将于 2027年3月1日 到期"
    assert email.body == (
        "小明，您好：\n\n"
        "您在Loyalty Club的 1,250 积分将于 2027年3月1日（7 天后）到期，请在此之前使用。\n\n"
        f"不再接收此类消息：{link}\n"
    )
    assert MessageLog.objects.get().subject_key == "2027-03-01/7d"


def test_sent_once_over_two_daily_runs(member, award, daily):
    award(member, 100)

    assert daily(DAY_30) == 1
    assert daily(DAY_30) == 0

    assert len(mail.outbox) == 1
    assert MessageLog.objects.count() == 1
    assert Event.objects.filter(type="message.requested").count() == 1


def test_the_event_is_written_with_the_log_row(member, award, daily):
    award(member, 100)

    daily(DAY_30)

    log = MessageLog.objects.get()
    event = Event.objects.get(type="message.requested")
    assert event.member_id == member.pk
    assert event.payload == {
        "member_external_id": "C-1001",
        "message_id": log.pk,
        "kind": "points_expiring",
        "subject_key": "2027-03-01/30d",
        "locale": "en",
        "params": {"points": 100, "expiry_date": "2027-03-01", "days_before": 30},
    }


def test_the_events_follow_each_members_sequence(make_member, award, daily):
    # given two members whose earlier events (the awards) already drew sequence numbers
    ada, bo = make_member(first_name="Ada"), make_member(first_name="Bo")
    award(ada, 100)
    award(ada, 50)
    award(bo, 100)
    before = {m.pk: Event.objects.filter(member_id=m.pk).count() for m in (ada, bo)}

    # when the reminders 30 and 7 days before are planned (two messages for each)
    daily(DAY_30)
    daily(DAY_7)

    # then each member's message events continue their sequence, gap-free, counter in step
    for m in (ada, bo):
        events = Event.objects.filter(member_id=m.pk).order_by("sequence")
        assert [e.sequence for e in events] == list(range(1, before[m.pk] + 3))
        assert [e.type for e in events][-2:] == ["message.requested", "message.requested"]
        assert MemberEventCounter.objects.get(member_id=m.pk).last == before[m.pk] + 2


def test_who_does_not_get_it(make_member, award, system_actor, daily):
    # given five members with points expiring the same day
    members = {
        name: make_member(first_name=name) for name in ("ok", "out", "bounced", "off", "gone")
    }
    for m in members.values():
        award(m, 100)
    opt_out_record(member_id=members["out"].pk, kind="points_expiring", actor=system_actor)
    suppression_record(address=members["bounced"].email, reason="bounced")
    member_set_status(member=members["off"], status="suspended", actor=system_actor, reason="test")
    member_erase(member=members["gone"], actor=system_actor, reason="test")

    daily(DAY_30)

    assert [e.to for e in mail.outbox] == [[members["ok"].email]]
    assert list(MessageLog.objects.values_list("member_id", flat=True)) == [members["ok"].pk]


def test_no_message_on_other_days_or_when_switched_off(member, award, daily):
    from messaging.models import KindSetting
    from messaging.templates_admin import kind_setting_update

    award(member, 100)
    assert daily(DAY_30.replace(day=29)) == 0

    setting = KindSetting.objects.get(kind="points_expiring")
    kind_setting_update(actor=Actor.system("tests"), setting=setting, enabled=True, days="14")
    assert daily(DAY_30) == 0
    kind_setting_update(actor=Actor.system("tests"), setting=setting, enabled=False, days="30")
    assert daily(DAY_30) == 0
    assert mail.outbox == []
