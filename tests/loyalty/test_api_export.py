"""The subject-access export: `GET /api/v1/members/{external_id}/export` and the admin's button."""

from __future__ import annotations

import datetime as dt
import json
from http import HTTPStatus

import pytest
from django.urls import reverse

from feedback.services import feedback_record
from loyalty.services.adjustments import adjustment_request
from members import services as member_services
from members.actors import Actor
from members.roles import CUSTOMER_SERVICE, SUPERVISOR
from tests.loyalty.conftest import T0
from tests.loyalty.staff import actor_for, client_for, staff_user


@pytest.fixture
def grace(make_member):
    member = make_member(
        external_id="C-2001",
        email="grace@example.com",
        first_name="Grace",
        last_name="Hopper",
        phone="+447700900555",
        birth_date=dt.date(1976, 12, 9),
        enrolled_at=T0 - dt.timedelta(days=30),
    )
    member_services.member_update(
        member=member, actor=Actor.system("tests"), marketing_consent=True, reason="opted in"
    )
    return member


def _history(grace, record_order, record_refund):
    record_order(grace, "O-1", "120.00", placed_at=T0)
    record_order(grace, "O-2", "40.00", placed_at=T0 + dt.timedelta(hours=1))
    record_refund("O-1", "R-1", "20.00", now=T0 + dt.timedelta(days=1))
    feedback_record(
        member=grace,
        scale="csat",
        score=4,
        comment="Quick delivery",
        order_id="O-2",
        actor=Actor.system("tests"),
        now=T0 + dt.timedelta(days=2),
    )
    supervisor = staff_user(SUPERVISOR, "sup")
    adjustment_request(
        member=grace, points=15, reason="Late parcel", actor=actor_for(supervisor), now=T0
    )


@pytest.mark.django_db
def test_export_holds_everything_about_the_member(api_client, grace, record_order, record_refund):
    _history(grace, record_order, record_refund)

    response = api_client.get("/api/v1/members/C-2001/export")

    assert response.status_code == HTTPStatus.OK
    data = response.json()
    assert list(data) == [
        "format_version",
        "exported_at",
        "member",
        "consent",
        "audit_entries",
        "account",
        "postings",
        "lots",
        "orders",
        "refunds",
        "tier",
        "tier_history",
        "adjustments",
        "memberships",
        "feedback",
        "segments",
        "redemptions",
        "campaign_awards",
        "campaign_holdouts",
        "referrals",
        "messages",
    ]
    assert data["format_version"] == 1
    member = data["member"]
    del member["referral_code"], member["created_at"], member["updated_at"]
    assert member == {
        "external_id": "C-2001",
        "status": "active",
        "email": "grace@example.com",
        "first_name": "Grace",
        "last_name": "Hopper",
        "phone": "+447700900555",
        "birth_date": "1976-12-09",
        "country": "",
        "enrolled_at": "2025-12-06T10:00:00Z",
        "referred_by": None,
    }
    assert data["consent"]["marketing_consent"] is True
    assert [(c["change"]) for c in data["consent"]["history"]] == [[False, True]]
    assert [(e["action"], e["actor_kind"]) for e in data["audit_entries"]] == [
        ("member.enrol", "system"),
        ("member.update", "system"),
    ]
    assert data["audit_entries"][1]["reason"] == "opted in"
    assert data["account"] == {"available": 15, "pending": 140, "lifetime_earned": 175}
    assert [(p["kind"], p["points"], p["order_id"]) for p in data["postings"]] == [
        ("earn", 120, "O-1"),
        ("adjust", 15, None),
        ("earn", 40, "O-2"),
        ("refund_reversal", -20, "O-1"),
    ]
    assert data["postings"][3]["effective_at"] == "2026-01-06T10:00:00Z"
    assert [(o["order_id"], o["total"], o["refunded_total"]) for o in data["orders"]] == [
        ("O-1", "120.00", "20.00"),
        ("O-2", "40.00", "0.00"),
    ]
    assert data["orders"][0]["placed_at"] == "2026-01-05T10:00:00Z"
    assert [
        (r["refund_id"], r["order_id"], r["amount"], r["points_reversed"])
        for r in (data["refunds"])
    ] == [("R-1", "O-1", "20.00", 20)]
    # a supervisor's adjustment within their limit is posted at once (no request is held)
    assert (data["postings"][1]["reason"], data["postings"][1]["actor_kind"]) == (
        "Late parcel",
        "staff",
    )
    assert data["adjustments"] == []
    assert data["feedback"] == [
        {
            "scale": "csat",
            "score": 4,
            "comment": "Quick delivery",
            "channel": "",
            "created_at": "2026-01-07T10:00:00Z",
            "order_id": "O-2",
        }
    ]
    assert (data["tier"], data["tier_history"], data["redemptions"]) == (None, [], [])
    assert data["referrals"] == {"made": [], "received": []}
    assert data["segments"] == {"statistics": None, "products": [], "clubs": []}


@pytest.mark.django_db
def test_export_queries_do_not_grow_with_the_history(
    api_client, grace, record_order, django_assert_num_queries
):
    record_order(grace, "O-1", "10.00")
    api_client.get("/api/v1/members/C-2001/export")  # warm: API key, content types
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as one:
        api_client.get("/api/v1/members/C-2001/export")
    for n in range(2, 12):
        record_order(grace, f"O-{n}", "10.00")

    with django_assert_num_queries(len(one.captured_queries)):
        response = api_client.get("/api/v1/members/C-2001/export")

    assert len(response.json()["orders"]) == 11


@pytest.mark.django_db
def test_export_of_an_unknown_or_erased_member(api_client, grace):
    assert api_client.get("/api/v1/members/C-9999/export").json()["code"] == "member_not_found"
    member_services.member_erase(member=grace, actor=Actor.system("tests"))

    response = api_client.get("/api/v1/members/C-2001/export")

    assert (response.status_code, response.json()["code"]) == (HTTPStatus.GONE, "member_erased")
    bad = api_client.get("/api/v1/members/a%20b/export")
    assert (bad.status_code, bad.json()["code"]) == (HTTPStatus.BAD_REQUEST, "validation_error")


@pytest.mark.django_db
def test_export_needs_an_api_key(anon_client, grace):
    response = anon_client.get("/api/v1/members/C-2001/export")

    assert response.status_code == HTTPStatus.UNAUTHORIZED


@pytest.mark.django_db
def test_the_admin_button_downloads_the_same_document(api_client, grace, record_order):
    record_order(grace, "O-1", "10.00")
    client = client_for(staff_user(SUPERVISOR, "sup"))
    page = client.get(reverse("admin:members_member_change", args=[grace.pk]))
    url = reverse("admin:members_member_data_export", args=[grace.pk])
    assert [t.label for t in page.context["member_tools"]].count("Export data (JSON)") == 1

    response = client.get(url)

    assert response.status_code == HTTPStatus.OK
    disposition = f'attachment; filename="member-{grace.pk}-export.json"'
    assert response["Content-Disposition"] == disposition
    document = json.loads(response.content)
    api = api_client.get("/api/v1/members/C-2001/export").json()
    del document["exported_at"], api["exported_at"]
    assert document == api


@pytest.mark.django_db
def test_only_supervisors_export_from_the_admin(grace):
    client = client_for(staff_user(CUSTOMER_SERVICE, "cs"))

    response = client.get(reverse("admin:members_member_data_export", args=[grace.pk]))

    assert response.status_code == HTTPStatus.FORBIDDEN
