"""The webhooks admin: endpoints (secret shown once, URL errors, test event, rotation, replay)
and the delivery log, through the admin as Marketing and Operator users."""

from __future__ import annotations

import re
import socket
from http import HTTPStatus

import pytest
from django.urls import reverse

from members.roles import CUSTOMER_SERVICE, MARKETING, OPERATOR
from tests.loyalty.staff import client_for, staff_user
from tests.webhooks.receiver import verify
from webhooks import services
from webhooks.models import Delivery, Endpoint, EndpointSecret

pytestmark = pytest.mark.django_db
# The test event's job runs after its transaction really commits (as on SQLite, in-process).
committing = pytest.mark.django_db(transaction=True)

ADD = "admin:webhooks_endpoint_add"


@pytest.fixture
def marketing():
    return client_for(staff_user(MARKETING, "marketer"))


@pytest.fixture
def endpoint(receiver, system_actor):
    endpoint, secret = services.endpoint_create(url=receiver.url(), actor=system_actor)
    endpoint.secret = secret
    return endpoint


def _secret_on(response) -> str:
    return re.search(r'id="webhook-secret"[^>]*>(whsec_[A-Za-z0-9+/=]+)<', response.text)[1]


@pytest.mark.parametrize("role", [MARKETING, OPERATOR])
def test_marketing_and_operators_add_an_endpoint_and_see_its_secret_once(role, receiver):
    client = client_for(staff_user(role, "someone"))

    response = client.post(
        reverse(ADD),
        {
            "url": receiver.url(),
            "description": "CRM",
            "event_types": ["tier.changed"],
            "active": "on",
        },
    )

    assert response.status_code == HTTPStatus.OK
    endpoint = Endpoint.objects.get()
    assert (endpoint.description, endpoint.event_types) == ("CRM", ["tier.changed"])
    assert _secret_on(response) == EndpointSecret.objects.get(endpoint=endpoint).secret
    page = client.get(reverse("admin:webhooks_endpoint_change", args=[endpoint.pk]))
    assert page.status_code == HTTPStatus.OK
    assert "whsec_" not in page.text


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://127.0.0.1:8080/hook", "not a public internet address"),
        ("ftp://example.com/", "must start with https://"),
        ("https://no-such-host.invalid/", "cannot be resolved"),
    ],
)
def test_an_invalid_url_is_an_error_on_the_url_field(url, says, marketing, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_ADDRESSES = False

    response = marketing.post(reverse(ADD), {"url": url, "description": "", "active": "on"})

    assert response.status_code == HTTPStatus.OK
    assert says in str(response.context["adminform"].form.errors["url"])
    assert Endpoint.objects.count() == 0


@committing
def test_a_test_event_is_sent_and_the_admin_says_it_arrived(
    role_groups, marketing, endpoint, receiver
):
    url = reverse("admin:webhooks_endpoint_test", args=[endpoint.pk])
    assert marketing.get(url).status_code == HTTPStatus.OK

    response = marketing.post(url, follow=True)

    [got] = receiver.at("/hook")
    assert verify(secret=endpoint.secret, headers=got.headers, body=got.body)
    assert "Test event delivered: HTTP 204" in response.text
    assert Delivery.objects.get().status == "delivered"


@committing
def test_an_unreachable_host_is_a_clear_error(role_groups, marketing, system_actor):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    endpoint, _ = services.endpoint_create(url=f"http://127.0.0.1:{port}/", actor=system_actor)

    response = marketing.post(
        reverse("admin:webhooks_endpoint_test", args=[endpoint.pk]), follow=True
    )

    assert "Test event not delivered: cannot connect to the host" in response.text
    assert "Connection refused" in response.text


@committing
def test_rotating_shows_the_new_secret_once_and_both_sign(
    role_groups, marketing, endpoint, receiver
):
    response = marketing.post(
        reverse("admin:webhooks_endpoint_rotate", args=[endpoint.pk]), {"overlap_hours": "2"}
    )
    new = _secret_on(response)
    marketing.post(reverse("admin:webhooks_endpoint_test", args=[endpoint.pk]))

    [got] = receiver.at("/hook")
    assert new != endpoint.secret
    assert verify(secret=new, headers=got.headers, body=got.body)
    assert verify(secret=endpoint.secret, headers=got.headers, body=got.body)


@committing
def test_the_delivery_log_and_replaying_a_delivery(
    role_groups, marketing, endpoint, receiver, system_actor
):
    delivery = services.endpoint_send_test(endpoint=endpoint, actor=system_actor)
    delivery.refresh_from_db()

    log = marketing.get(
        reverse("admin:webhooks_delivery_changelist") + f"?endpoint__id__exact={endpoint.pk}"
    )
    page = marketing.get(reverse("admin:webhooks_delivery_change", args=[delivery.pk]))
    found = marketing.get(reverse("admin:webhooks_delivery_changelist") + f"?q={delivery.event_id}")
    replayed = marketing.post(reverse("admin:webhooks_delivery_replay", args=[delivery.pk]))

    assert log.status_code == page.status_code == found.status_code == HTTPStatus.OK
    assert "Replay this delivery" in page.text
    assert found.context["cl"].result_count == 1
    assert replayed.status_code == HTTPStatus.FOUND
    assert [r.id for r in receiver.at("/hook")] == [str(delivery.event_id)] * 2
    assert list(Delivery.objects.order_by("pk").values_list("kind", flat=True)) == [
        "test",
        "replay",
    ]


def test_the_delivery_log_reads_in_a_bounded_number_of_queries(
    marketing, endpoint, system_actor, django_assert_max_num_queries
):
    for _ in range(30):
        services.endpoint_send_test(endpoint=endpoint, actor=system_actor)

    with django_assert_max_num_queries(12):
        response = marketing.get(reverse("admin:webhooks_delivery_changelist"))

    assert response.status_code == HTTPStatus.OK


def test_customer_service_sees_no_webhooks():
    client = client_for(staff_user(CUSTOMER_SERVICE, "agent"))

    response = client.get(reverse("admin:webhooks_endpoint_changelist"))

    assert response.status_code == HTTPStatus.FORBIDDEN


def test_nobody_deletes_an_endpoint(marketing, endpoint):
    response = marketing.post(reverse("admin:webhooks_endpoint_delete", args=[endpoint.pk]))

    assert response.status_code == HTTPStatus.FORBIDDEN
    assert Endpoint.objects.count() == 1
