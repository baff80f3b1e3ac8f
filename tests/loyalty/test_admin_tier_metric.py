"""The tier metric in the admin: Marketing picks it on the settings page; a live ladder's metric
changes only with the re-evaluation confirmed; the member page shows the figure in its unit."""

from __future__ import annotations

from http import HTTPStatus

import pytest
from django.utils import timezone

from loyalty.models import ProgramSettings
from loyalty.services.tiers import tier_evaluate_all
from members.roles import MARKETING
from tests.loyalty.staff import client_for, staff_user
from tests.loyalty.test_admin_program import SETTINGS_URL, _form_data
from tests.loyalty.test_tier_metric import DAY, ladder_make
from tests.loyalty.tiers_helpers import held


@pytest.fixture
def marketing(db):
    return staff_user(MARKETING, "marketing")


def test_marketing_chooses_growth_value_and_its_sources(marketing):
    client = client_for(marketing)

    page = client.get(SETTINGS_URL)
    response = client.post(
        SETTINGS_URL,
        _form_data(tier_metric="growth_value", growth_sources=["orders", "review"]),
    )

    assert page.status_code == HTTPStatus.OK
    assert "Growth value sources" in page.content.decode()
    assert response.status_code == HTTPStatus.FOUND
    current = ProgramSettings.objects.get()
    assert (current.tier_metric, current.growth_sources) == ("growth_value", ["orders", "review"])


def test_growth_value_without_a_source_is_refused_on_the_form(marketing):
    response = client_for(marketing).post(SETTINGS_URL, _form_data(tier_metric="growth_value"))

    assert response.status_code == HTTPStatus.OK
    assert "growth_sources" in response.context["adminform"].form.errors
    assert ProgramSettings.objects.get().tier_metric == "qualifying_spend"


def test_a_live_ladder_changes_metric_only_with_the_reevaluation_confirmed(
    marketing, make_member, record_order, system_actor
):
    ladder_make(system_actor, "qualifying_spend", ["250", "500", "1000"])
    member = make_member()
    record_order(member, "AD-1", "300.00", placed_at=timezone.now() - DAY)
    assert held(member) == "silver"
    client = client_for(marketing)

    refused = client.post(SETTINGS_URL, _form_data(tier_metric="orders"))
    confirmed = client.post(
        SETTINGS_URL, _form_data(tier_metric="orders", confirm_reevaluation="on")
    )

    assert refused.status_code == HTTPStatus.OK
    assert "confirm_reevaluation" in refused.context["adminform"].form.errors
    assert confirmed.status_code == HTTPStatus.FOUND
    assert ProgramSettings.objects.get().tier_metric == "orders"
    tier_evaluate_all(actor=system_actor)
    assert held(member) == "silver"  # kept through the hold


def test_the_member_page_shows_the_orders_figure(
    admin_client, make_member, record_order, system_actor
):
    ladder_make(system_actor, "orders", ["2", "3", "5"])
    member = make_member()
    record_order(member, "AD-2", "30.00", placed_at=timezone.now() - DAY)

    response = admin_client.get(f"/admin/members/member/{member.pk}/change/")

    body = response.content.decode()
    assert response.status_code == HTTPStatus.OK
    assert "Place 1 more order by" in body
    assert "1 to Silver (2)" in body
