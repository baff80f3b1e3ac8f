"""The admin's frame: the refused page (403) in the admin's look naming the missing role, the
"Reports and work" module (dashboard, pending adjustment requests) on the home page and in the
sidebar, and "View site" pointing at the API docs."""

from __future__ import annotations

import re
from http import HTTPStatus

import pytest
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from config.forbidden import permission_denied
from loyalty.services.adjustments import adjustment_request
from members.actors import Actor
from members.management.commands.load_demo import admin_url
from members.roles import CUSTOMER_SERVICE, MARKETING, OPERATOR, SUPERVISOR
from tests.loyalty.staff import client_for, staff_user


def _text(response) -> str:
    """The page's visible text, roughly: tags dropped, whitespace collapsed."""
    html = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", response.content.decode(), flags=re.S)
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


@pytest.mark.django_db
def test_a_refused_admin_page_names_the_role_it_needs_inside_the_admin_frame():
    supervisor = client_for(staff_user(SUPERVISOR, "sup"))

    response = supervisor.get(
        reverse("admin:campaigns_campaign_add"), HTTP_REFERER="http://testserver/admin/"
    )

    assert response.status_code == HTTPStatus.FORBIDDEN
    text = _text(response)
    assert "This page needs the Marketing role." in text
    assert "Loyalty Back Office" in text  # the admin's header
    assert 'id="nav-sidebar"' in response.content.decode()
    assert 'href="http://testserver/admin/" id="go-back"' in response.content.decode()


@pytest.mark.django_db
def test_a_custom_view_names_its_own_permission_s_roles(member):
    agent = staff_user(CUSTOMER_SERVICE, "agent")
    held = adjustment_request(
        member=member, points=1500, reason="lost parcel", actor=Actor.staff(agent)
    ).request

    response = client_for(agent).get(
        reverse("admin:loyalty_adjustmentrequest_approve", args=[held.pk])
    )

    assert response.status_code == HTTPStatus.FORBIDDEN
    assert "This page needs the Supervisor role." in _text(response)
    # No referrer: the way back is the admin's home.
    assert f'href="{reverse("admin:index")}" id="go-back"' in response.content.decode()


@pytest.mark.django_db
def test_a_page_several_roles_open_lists_them():
    operator = client_for(staff_user(OPERATOR, "op"))

    response = operator.get(reverse("admin:rewards_reward_add"))

    assert response.status_code == HTTPStatus.FORBIDDEN
    assert "This page needs the Marketing role." in _text(response)
    response = client_for(staff_user(MARKETING, "mk")).get(
        reverse("admin:loyalty_importrun_import")
    )
    assert "This page needs the Operator role." in _text(response)


@pytest.mark.django_db
def test_outside_the_admin_the_403_stays_django_s_own():
    request = RequestFactory().get("/somewhere/")
    request.user = staff_user(SUPERVISOR, "sup")

    response = permission_denied(request, PermissionDenied())

    assert response.status_code == HTTPStatus.FORBIDDEN
    assert b"nav-sidebar" not in response.content


@pytest.mark.django_db
def test_supervisors_see_the_pending_requests_count_on_home_and_in_the_sidebar(member):
    agent = staff_user(CUSTOMER_SERVICE, "agent")
    for points in (1500, 2500):
        adjustment_request(member=member, points=points, reason="x", actor=Actor.staff(agent))
    supervisor = client_for(staff_user(SUPERVISOR, "sup"))

    home = supervisor.get(reverse("admin:index"))
    listing = supervisor.get(reverse("admin:members_member_changelist"))

    for page in (home, listing):
        html = page.content.decode()
        assert re.findall(r'<span class="badge badge-alert"[^>]*>(\d+)</span>', html) == ["2"]
        assert "Adjustment requests to decide" in _text(page)


@pytest.mark.django_db
def test_customer_service_sees_no_pending_count_but_the_dashboard_link(member):
    agent = staff_user(CUSTOMER_SERVICE, "agent")
    adjustment_request(member=member, points=1500, reason="x", actor=Actor.staff(agent))

    home = client_for(agent).get(reverse("admin:index"))
    listing = client_for(agent).get(reverse("admin:members_member_changelist"))

    assert "Adjustment requests to decide" not in _text(home)
    for page in (home, listing):
        assert f'<a href="{reverse("admin-dashboard")}"' in page.content.decode()


@pytest.mark.django_db
def test_the_pending_count_costs_one_query_per_page(member):
    supervisor = client_for(staff_user(SUPERVISOR, "sup"))

    with CaptureQueriesContext(connection) as queries:
        response = supervisor.get(reverse("admin:index"))

    # The home page's module shows it (one COUNT, kept on the request for the sidebar).
    assert response.status_code == HTTPStatus.OK
    touching = [q["sql"] for q in queries if "loyalty_adjustmentrequest" in q["sql"]]
    assert len(touching) == 1
    assert touching[0].startswith("SELECT COUNT(*)")


@pytest.mark.django_db
def test_view_site_opens_the_api_docs(admin_client):
    response = admin_client.get(reverse("admin:index"))

    assert '<a href="/api/v1/docs/">' in response.content.decode()


def test_the_demo_banner_prints_the_port_make_run_serves(monkeypatch):
    monkeypatch.delenv("HOST", raising=False)
    monkeypatch.delenv("PORT", raising=False)
    assert admin_url() == "http://127.0.0.1:8000/admin/"

    monkeypatch.setenv("PORT", "8100")
    assert admin_url() == "http://127.0.0.1:8100/admin/"
