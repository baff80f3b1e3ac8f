"""Program settings and exchange rates in the admin: Marketing edits, every change audited."""

from __future__ import annotations

from decimal import Decimal
from http import HTTPStatus

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from config.errors import ServiceError
from loyalty.models import ExchangeRate, ProgramSettings
from loyalty.selectors.program import program_settings
from loyalty.services.program import exchange_rate_set, program_settings_update
from members.models import AuditEntry
from members.roles import CUSTOMER_SERVICE, MARKETING, OPERATOR, SUPERVISOR
from tests.loyalty.staff import actor_for, client_for, staff_user

SETTINGS_URL = reverse("admin:loyalty_programsettings_change", args=[1])


def _form_data(**overrides) -> dict:
    current = program_settings()
    data = {
        "currency": current.currency,
        "earn_rate": str(current.earn_rate),
        "point_value": str(current.point_value),
        "pending_days": current.pending_days,
        "points_lifetime_days": current.points_lifetime_days,
        "allow_negative_balance": "on" if current.allow_negative_balance else "",
        "qualification": current.qualification,
        "tier_hold_days": current.tier_hold_days,
        "service_adjustment_limit": current.service_adjustment_limit,
        "service_daily_limit": current.service_daily_limit,
        "reason": "",
    }
    data.update(overrides)
    return data


@pytest.fixture
def marketing(db):
    return staff_user(MARKETING, "marketing")


def test_the_settings_list_opens_the_single_record(admin_client):
    response = admin_client.get(reverse("admin:loyalty_programsettings_changelist"))

    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"] == SETTINGS_URL
    assert ProgramSettings.objects.count() == 1


def test_the_settings_page_opens_with_its_recent_changes(admin_client, marketing):
    program_settings_update(actor=actor_for(marketing), earn_rate=Decimal("2"))

    response = admin_client.get(SETTINGS_URL)

    assert response.status_code == HTTPStatus.OK
    assert [e.changes for e in response.context["recent_changes"]] == [
        {"earn_rate": ["1.0000", "2"]}
    ]


def test_nobody_adds_or_deletes_the_settings(admin_client):
    program_settings()

    add = admin_client.get(reverse("admin:loyalty_programsettings_add"))
    delete = admin_client.post(
        reverse("admin:loyalty_programsettings_delete", args=[1]), {"post": "yes"}
    )

    assert add.status_code == HTTPStatus.FORBIDDEN
    assert delete.status_code == HTTPStatus.FORBIDDEN
    assert ProgramSettings.objects.count() == 1


def test_marketing_changes_the_settings_and_the_change_is_audited(marketing):
    program_settings()
    client = client_for(marketing)

    response = client.post(
        SETTINGS_URL,
        _form_data(earn_rate="1.5", service_daily_limit=2500, reason="spring promo"),
    )

    assert response.status_code == HTTPStatus.FOUND
    current = program_settings()
    assert current.earn_rate == Decimal("1.5")
    assert current.service_daily_limit == 2500
    entry = AuditEntry.objects.get(action="program_settings.update")
    assert entry.actor_user_id == marketing.pk
    assert entry.actor_label == "marketing"
    assert entry.target_type == "loyalty.programsettings"
    assert entry.changes == {"earn_rate": ["1.0000", "1.5"], "service_daily_limit": [1000, 2500]}
    assert entry.reason == "spring promo"


def test_saving_without_a_change_records_nothing(marketing):
    program_settings()

    response = client_for(marketing).post(SETTINGS_URL, _form_data())

    assert response.status_code == HTTPStatus.FOUND
    assert AuditEntry.objects.filter(action="program_settings.update").count() == 0


def test_an_invalid_value_is_refused_on_the_form(marketing):
    program_settings()

    response = client_for(marketing).post(SETTINGS_URL, _form_data(earn_rate="-1", currency="EU"))

    assert response.status_code == HTTPStatus.OK
    assert sorted(response.context["adminform"].form.errors) == ["currency", "earn_rate"]
    assert program_settings().earn_rate == Decimal("1")


@pytest.mark.parametrize("role", [CUSTOMER_SERVICE, SUPERVISOR, OPERATOR])
def test_other_roles_cannot_change_the_settings(db, role):
    program_settings()
    client = client_for(staff_user(role, "staff"))

    response = client.post(SETTINGS_URL, _form_data(earn_rate="5"))

    assert response.status_code == HTTPStatus.FORBIDDEN
    assert program_settings().earn_rate == Decimal("1")


def test_the_service_refuses_unknown_settings(system_actor, db):
    with pytest.raises(ServiceError) as exc:
        program_settings_update(actor=system_actor, updated_at=None)

    assert exc.value.code == "validation_error"
    assert exc.value.errors == [{"field": "updated_at", "message": "Unknown setting: updated_at"}]


# --- exchange rates -----------------------------------------------------------------------------


def test_exchange_rate_pages_open(admin_client, system_actor):
    rate = exchange_rate_set(currency="EUR", rate=Decimal("0.85"), actor=system_actor)

    changelist = admin_client.get(reverse("admin:loyalty_exchangerate_changelist"))
    page = admin_client.get(reverse("admin:loyalty_exchangerate_change", args=[rate.pk]))
    add = admin_client.get(reverse("admin:loyalty_exchangerate_add"))

    assert changelist.status_code == HTTPStatus.OK
    assert page.status_code == HTTPStatus.OK
    assert add.status_code == HTTPStatus.OK


def test_marketing_adds_changes_and_deletes_rates_all_audited(marketing):
    client = client_for(marketing)

    added = client.post(
        reverse("admin:loyalty_exchangerate_add"), {"currency": "usd", "rate": "0.79"}
    )
    rate = ExchangeRate.objects.get()
    changed = client.post(
        reverse("admin:loyalty_exchangerate_change", args=[rate.pk]), {"rate": "0.8"}
    )
    deleted = client.post(
        reverse("admin:loyalty_exchangerate_delete", args=[rate.pk]), {"post": "yes"}
    )

    assert [added.status_code, changed.status_code, deleted.status_code] == [HTTPStatus.FOUND] * 3
    assert ExchangeRate.objects.count() == 0
    entries = AuditEntry.objects.filter(target_type="loyalty.exchangerate").order_by("id")
    assert [(e.action, e.actor_label, e.changes) for e in entries] == [
        ("exchange_rate.create", "marketing", {"currency": [None, "USD"], "rate": [None, "0.79"]}),
        ("exchange_rate.update", "marketing", {"rate": ["0.790000", "0.8"]}),
        (
            "exchange_rate.delete",
            "marketing",
            {"currency": ["USD", None], "rate": ["0.800000", None]},
        ),
    ]
    assert [str(m) for m in get_messages(deleted.wsgi_request)][-1].startswith(
        "The exchange rate “1 USD = 0.800000” was deleted"
    )


def test_customer_service_cannot_change_rates(db, system_actor):
    rate = exchange_rate_set(currency="EUR", rate=Decimal("0.85"), actor=system_actor)
    client = client_for(staff_user(CUSTOMER_SERVICE, "agent"))

    add = client.get(reverse("admin:loyalty_exchangerate_add"))
    change = client.post(
        reverse("admin:loyalty_exchangerate_change", args=[rate.pk]), {"rate": "9"}
    )

    assert add.status_code == HTTPStatus.FORBIDDEN
    assert change.status_code == HTTPStatus.FORBIDDEN
    rate.refresh_from_db()
    assert rate.rate == Decimal("0.85")
