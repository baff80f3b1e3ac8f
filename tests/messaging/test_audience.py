"""A message kind's audience: a segment (a club through the segment's club condition); only its
members get the kind, on both engines (SQLite's row path and PostgreSQL's one statement)."""

from __future__ import annotations

import pytest
from django.core import mail
from django.urls import reverse

from members.actors import Actor
from members.models import AuditEntry
from messaging.models import KindSetting, MessageLog
from messaging.templates_admin import kind_setting_update
from segments.models import Club, Segment
from segments.services.clubs import club_join
from segments.services.segments import segment_save
from tests.messaging.conftest import DAY_30

pytestmark = pytest.mark.django_db
PARENTS = {"all": [{"field": "club", "op": "in", "value": ["parents"]}]}


@pytest.fixture
def parents(make_member, system_actor):
    club = Club.objects.create(code="parents", name="Parents")
    ada = make_member(external_id="A-1", email="ada@example.com", first_name="Ada")
    bob = make_member(external_id="B-1", email="bob@example.com", first_name="Bob")
    club_join(member=ada, club=club, actor=system_actor)
    segment = segment_save(
        segment=Segment(code="parents", name="Parents", conditions=PARENTS), actor=system_actor
    )
    return ada, bob, segment


def test_only_the_audience_gets_the_kind(parents, award, daily):
    ada, bob, segment = parents
    award(ada, 100)
    award(bob, 100)
    setting = KindSetting.objects.get(kind="points_expiring")
    kind_setting_update(
        actor=Actor.system("tests"), setting=setting, enabled=True, days="30", audience=segment
    )

    assert daily(DAY_30) == 1

    assert [m.to for m in mail.outbox] == [["ada@example.com"]]
    assert list(MessageLog.objects.values_list("member__external_id", flat=True)) == ["A-1"]
    entry = AuditEntry.objects.get(action="messages.kind_setting")
    assert entry.changes == {"days": ["", "30"], "audience_id": [None, segment.pk]}


def test_timing_changes_keep_the_audience_and_none_clears_it(parents, award, daily):
    ada, bob, segment = parents
    setting = KindSetting.objects.get(kind="points_expiring")
    actor = Actor.system("tests")
    kind_setting_update(actor=actor, setting=setting, enabled=True, days="30", audience=segment)
    setting.refresh_from_db()
    kind_setting_update(actor=actor, setting=setting, enabled=True, days="30,7")
    setting.refresh_from_db()
    assert setting.audience_id == segment.pk

    kind_setting_update(actor=actor, setting=setting, enabled=True, days="30", audience=None)
    award(ada, 100)
    award(bob, 100)

    assert daily(DAY_30) == 2


def test_marketing_sets_the_audience_in_the_admin(parents, admin_client):
    segment = parents[2]
    setting = KindSetting.objects.get(kind="birthday")
    url = reverse("admin:messaging_kindsetting_change", args=[setting.pk])

    response = admin_client.post(url, {"enabled": "on", "days": "", "audience": segment.pk})

    assert response.status_code == 302
    setting.refresh_from_db()
    assert setting.audience_id == segment.pk
