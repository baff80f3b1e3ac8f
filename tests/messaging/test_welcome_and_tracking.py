"""Welcome on enrolment; the provider's bounce and complaint signal suppresses the address;
erasure leaves no personal value in the log."""

from __future__ import annotations

import pytest
from anymail.signals import AnymailTrackingEvent, tracking
from django.core import mail

from loyalty.services.enrolment import program_member_enrol
from messaging.models import MessageLog, MessageStatus, Suppression
from messaging.services import message_request

pytestmark = pytest.mark.django_db


def test_welcome_on_enrolment(system_actor, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        member = program_member_enrol(
            actor=system_actor, external_id="W-1", email="wu@example.com", first_name="Wu"
        )

    email = mail.outbox[0]
    assert email.subject == "Wu, welcome to Loyalty Club"
    assert email.body.startswith(
        "Hello Wu,\n\nWelcome to Loyalty Club: from now on every order earns you points. "
        f"Invite friends with your code {member.referral_code}.\n\n"
    )
    assert MessageLog.objects.get().subject_key == "enrolled"


def test_welcome_in_chinese(system_actor, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        member = program_member_enrol(
            actor=system_actor, external_id="W-2", email="li@example.com", locale="zh-hans"
        )

    email = mail.outbox[0]
    assert email.subject == "欢迎加入Loyalty Club"
    assert email.body.startswith(
        "您好：\n\n欢迎加入Loyalty Club！从现在起，每笔订单都能为您赚取积分。"
        f"用您的推荐码 {member.referral_code} 邀请好友。\n\n"
    )


@pytest.mark.parametrize(
    ("event_type", "reason"), [("bounced", "bounced"), ("complained", "complained")]
)
def test_tracking_signal_suppresses_the_address(
    member, event_type, reason, django_capture_on_commit_callbacks
):
    event = AnymailTrackingEvent(
        event_type=event_type, recipient="Ada@Example.com", event_id="ev-1", message_id="m-1"
    )
    tracking.send(sender=object, event=event, esp_name="Test")
    tracking.send(sender=object, event=event, esp_name="Test")  # a webhook retried

    assert list(Suppression.objects.values_list("address", "reason")) == [
        ("ada@example.com", reason)
    ]
    with django_capture_on_commit_callbacks(execute=True):
        assert message_request(kind="welcome", member_id=member.pk, subject_key="enrolled") == 0
    assert mail.outbox == []


def test_delivered_events_change_nothing(member):
    event = AnymailTrackingEvent(event_type="delivered", recipient="ada@example.com")

    tracking.send(sender=object, event=event, esp_name="Test")

    assert Suppression.objects.count() == 0


def test_a_member_suppressed_after_planning_is_skipped_at_send(
    member, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        message_request(kind="welcome", member_id=member.pk, subject_key="enrolled")
    Suppression.objects.create(address="ada@example.com", reason="bounced")
    for callback in callbacks:
        callback()

    log = MessageLog.objects.get()
    assert (log.status, log.error) == (MessageStatus.SKIPPED, "suppressed")
    assert mail.outbox == []
