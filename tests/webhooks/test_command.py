"""`manage.py webhooks_dispatch`: one pass fans out every waiting event."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.db import transaction

from events.services import event_record
from tests.webhooks.outbox import wait_until_visible
from webhooks import services


@pytest.mark.django_db(transaction=True)
def test_one_pass_delivers_every_waiting_event(receiver, system_actor, settings):
    services.endpoint_create(url=receiver.url(), actor=system_actor)
    with transaction.atomic():
        events = [
            event_record(type="member.erased", member_id=n, member_external_id=f"C-{n}", payload={})
            for n in range(1, 8)
        ]
    wait_until_visible(7)
    out = io.StringIO()

    call_command("webhooks_dispatch", stdout=out)

    assert out.getvalue() == "7 events dispatched\n"
    assert sorted(r.id for r in receiver.at("/hook")) == sorted(str(e.uuid) for e in events)
