"""The one-click unsubscribe link: no login, signed, idempotent, audited on the member."""

from __future__ import annotations

from http import HTTPStatus

import pytest
from django.test import Client

from members.models import AuditEntry
from messaging.context import unsubscribe_token, unsubscribe_url
from messaging.models import OptOut

pytestmark = pytest.mark.django_db


def _path(member, kind="points_expiring"):
    return unsubscribe_url(member_id=member.pk, kind=kind).removeprefix("http://localhost:8000")


def test_get_asks_post_stops_at_once_and_a_second_use_is_fine(member):
    client = Client(enforce_csrf_checks=True)  # a mail client's POST carries no CSRF token

    page = client.get(_path(member))
    assert page.status_code == HTTPStatus.OK
    assert "Stop receiving “Points expiring” messages?" in page.content.decode()
    assert OptOut.objects.count() == 0  # a GET (a link scanner) changes nothing

    first = client.post(_path(member), {"List-Unsubscribe": "One-Click"})
    second = client.post(_path(member), {"List-Unsubscribe": "One-Click"})

    assert (first.status_code, second.status_code) == (HTTPStatus.OK, HTTPStatus.OK)
    assert "You will receive no more “Points expiring” messages." in second.content.decode()
    assert list(OptOut.objects.values_list("member_id", "kind")) == [(member.pk, "points_expiring")]
    audit = AuditEntry.objects.get(action="messages.opt_out")
    assert (audit.member_id, audit.actor_label, audit.changes) == (
        member.pk,
        "system:unsubscribe link",
        {"kind": ["", "points_expiring"]},
    )


def test_a_bad_signature_is_refused(member):
    token = unsubscribe_token(member_id=member.pk, kind="points_expiring")
    forged = token.replace(token[-1], "A" if token[-1] != "A" else "B")
    other_member = unsubscribe_token(member_id=member.pk + 1, kind="points_expiring")
    tampered = other_member.split(":")[0] + ":" + token.split(":")[1]

    for bad in (forged, tampered, "nonsense"):
        response = Client().post(f"/messages/unsubscribe/{bad}/")
        assert response.status_code == HTTPStatus.BAD_REQUEST
        assert "This unsubscribe link is not valid." in response.content.decode()
    assert OptOut.objects.count() == 0


def test_the_page_speaks_the_members_language(make_member):
    member = make_member(locale="zh-hans")

    page = Client().get(_path(member))

    assert "不再接收" in page.content.decode()
