"""Exactly once under concurrency, on PostgreSQL: two daily runs at once, and two workers
sending the same batch at once, request and send each message once."""

from __future__ import annotations

import pytest
from django.core import mail

from events.models import Event
from messaging.daily import messages_daily
from messaging.models import MessageLog, MessageStatus
from messaging.sending import messages_send
from tests.loyalty.test_races import run_at_once
from tests.messaging.conftest import DAY_30

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_two_daily_runs_at_once_request_each_message_once(make_member, award, settings):
    settings.JOBS_RUN_INLINE = False  # the send jobs wait on the queue; this test plans only
    members = [make_member() for _ in range(30)]
    for member in members:
        award(member, 100)

    results = run_at_once(2, lambda i: messages_daily(as_of=DAY_30))

    assert all(isinstance(r, int) for r in results), results
    assert sum(results) == 30
    assert MessageLog.objects.count() == 30
    assert sorted(MessageLog.objects.values_list("member_id", flat=True)) == sorted(
        m.pk for m in members
    )
    assert Event.objects.filter(type="message.requested").count() == 30


def test_two_workers_sending_the_same_batch_send_each_once(make_member, award, settings):
    settings.JOBS_RUN_INLINE = False
    for _ in range(20):
        award(make_member(), 100)
    messages_daily(as_of=DAY_30)
    ids = list(MessageLog.objects.order_by("pk").values_list("pk", flat=True))

    results = run_at_once(2, lambda i: messages_send(message_ids=ids))

    assert all(isinstance(r, int) for r in results), results
    assert sum(results) == 20
    assert len(mail.outbox) == 20
    assert MessageLog.objects.filter(status=MessageStatus.SENT).count() == 20
