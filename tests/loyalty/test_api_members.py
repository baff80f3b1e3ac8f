"""`PUT`, `GET`, `DELETE /api/v1/members/{external_id}`: the contract in docs/api.md."""

from __future__ import annotations

import datetime as dt
import json
import threading
from http import HTTPStatus

import pytest
from django.db import connections, transaction
from django.utils import timezone
from rest_framework.test import APIClient

from loyalty.importing.pipeline import import_orders
from loyalty.models.ledger import PostingKind
from loyalty.services.ledger import NewCredit, account_lock, credits_post
from loyalty.services.points import points_spend
from members import services as member_services
from members.actors import Actor
from members.models import AuditEntry, Member

PROBLEM = "application/problem+json"


def url(external_id: str) -> str:
    return f"/api/v1/members/{external_id}"


def put(client, external_id: str, body):
    return client.put(url(external_id), body, format="json")


def summary(member: Member, **overrides) -> dict:
    """The summary the API should answer for `member` with no points, tier or perks."""
    body = {
        "external_id": member.external_id,
        "email": member.email,
        "first_name": member.first_name,
        "last_name": member.last_name,
        "phone": member.phone,
        "birth_date": member.birth_date.isoformat() if member.birth_date else None,
        "marketing_consent": member.marketing_consent,
        "country": member.country,
        "status": member.status,
        "enrolled_at": timezone.localtime(member.enrolled_at).isoformat().replace("+00:00", "Z"),
        "referral_code": member.referral_code,
        "locale": "en",
        "tier": None,
        "points": {"available": 0, "pending": 0, "lifetime_earned": 0, "expiring": []},
        "progress": None,
        "perks": [],
        "membership": None,
        "clubs": [],
    }
    body.update(overrides)
    return body


def assert_problem(response, status: int, code: str, field: str | None = None) -> None:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == PROBLEM
    body = response.json()
    assert (body["status"], body["code"]) == (status, code)
    if field is not None:
        assert field in [e["field"] for e in body["errors"]], body


# --- PUT: enrol -------------------------------------------------------------------------------


def test_put_enrols_a_new_member_and_answers_201_with_the_summary(api_client):
    response = put(
        api_client,
        "C-1001",
        {
            "email": "Ada@Example.com",
            "first_name": "Ada",
            "last_name": "Lovelace",
            "phone": "+44 20 7946 0000",
            "birth_date": "1815-12-10",
            "marketing_consent": True,
            "enrolled_at": "2026-01-05T10:00:00Z",
        },
    )

    assert response.status_code == HTTPStatus.CREATED
    member = Member.objects.get(external_id="C-1001")
    assert response.json() == {
        "external_id": "C-1001",
        "email": "ada@example.com",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "phone": "+44 20 7946 0000",
        "birth_date": "1815-12-10",
        "marketing_consent": True,
        "country": "",
        "status": "active",
        "enrolled_at": "2026-01-05T10:00:00Z",
        "referral_code": member.referral_code,
        "locale": "en",
        "tier": None,
        "points": {"available": 0, "pending": 0, "lifetime_earned": 0, "expiring": []},
        "progress": None,
        "perks": [],
        "membership": None,
        "clubs": [],
    }
    assert member.enrolled_at == dt.datetime(2026, 1, 5, 10, 0, tzinfo=dt.UTC)


def test_put_enrolment_is_recorded_as_done_by_the_api_key(api_client):
    put(api_client, "C-1001", {"email": "ada@example.com"})

    entry = AuditEntry.objects.get(action="member.enrol")
    assert (entry.actor_kind, entry.actor_label, entry.actor_api_key_id) == (
        "api",
        "api:storefront-test",
        api_client.api_key.pk,
    )


def test_put_enrolment_with_a_referral_code_links_the_referrer(api_client, member):
    response = put(
        api_client, "C-2002", {"email": "b@example.com", "referral_code": member.referral_code}
    )

    assert response.status_code == HTTPStatus.CREATED
    assert Member.objects.get(external_id="C-2002").referred_by == member


def test_put_enrolment_with_an_unknown_referral_code_is_refused(api_client):
    response = put(api_client, "C-2002", {"email": "b@example.com", "referral_code": "ZZZZZZZZ"})

    assert_problem(response, HTTPStatus.BAD_REQUEST, "validation_error", field="referral_code")
    assert not Member.objects.filter(external_id="C-2002").exists()


def test_put_enrolment_needs_an_email(api_client):
    response = put(api_client, "C-1001", {"first_name": "Ada"})

    assert_problem(response, HTTPStatus.BAD_REQUEST, "validation_error", field="email")
    assert Member.objects.count() == 0


def test_put_enrolment_with_a_taken_email_is_409(api_client, member):
    response = put(api_client, "C-2002", {"email": "ADA@example.com"})

    assert_problem(response, HTTPStatus.CONFLICT, "email_taken", field="email")
    assert not Member.objects.filter(external_id="C-2002").exists()


@pytest.mark.parametrize(
    ("value", "message_part"),
    [("2026-01-05T10:00:00", "time zone"), ("2999-01-01T00:00:00Z", "future"), ("soon", "")],
)
def test_put_enrolled_at_must_be_a_past_time_with_a_zone(api_client, value, message_part):
    response = put(api_client, "C-1001", {"email": "ada@example.com", "enrolled_at": value})

    assert_problem(response, HTTPStatus.BAD_REQUEST, "validation_error", field="enrolled_at")
    assert message_part in response.json()["errors"][0]["message"]


# --- PUT: update ------------------------------------------------------------------------------


def test_put_of_an_existing_member_updates_only_the_fields_sent(api_client, member):
    response = put(api_client, member.external_id, {"last_name": "Lovelace", "phone": "123"})

    assert response.status_code == HTTPStatus.OK
    member.refresh_from_db()
    assert (member.email, member.first_name, member.last_name, member.phone) == (
        "ada@example.com",
        "Ada",
        "Lovelace",
        "123",
    )
    assert response.json() == summary(member)
    entry = AuditEntry.objects.get(action="member.update")
    assert entry.changes == {"last_name": ["", "Lovelace"], "phone": ["", "123"]}
    assert entry.actor_kind == "api"


def test_put_birth_date_null_clears_it(api_client, make_member):
    member = make_member(birth_date=dt.date(1815, 12, 10))

    response = put(api_client, member.external_id, {"birth_date": None})

    assert response.status_code == HTTPStatus.OK
    assert response.json()["birth_date"] is None
    member.refresh_from_db()
    assert member.birth_date is None


def test_put_with_an_empty_body_on_an_existing_member_changes_nothing(api_client, member):
    response = put(api_client, member.external_id, {})

    assert response.status_code == HTTPStatus.OK
    assert response.json() == summary(member)
    assert not AuditEntry.objects.filter(action="member.update").exists()


def test_put_sent_again_after_an_enrolment_is_a_200_that_changes_nothing(api_client, member):
    body = {
        "email": "b@example.com",
        "first_name": "Bea",
        "referral_code": member.referral_code.lower(),
        "enrolled_at": "2026-01-05T10:00:00Z",
    }
    first = put(api_client, "C-2002", body)

    again = put(api_client, "C-2002", body)

    assert (first.status_code, again.status_code) == (HTTPStatus.CREATED, HTTPStatus.OK)
    assert again.json() == first.json()
    assert not AuditEntry.objects.filter(action="member.update").exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_puts_racing_to_enrol_the_same_id_enrol_once_and_update_the_rest(api_key):
    barrier = threading.Barrier(6)
    statuses: list[int] = []

    def enrol() -> None:
        try:
            client = APIClient()
            client.credentials(HTTP_AUTHORIZATION=f"Api-Key {api_key.raw_key}")
            barrier.wait(timeout=10)
            statuses.append(put(client, "C-RACE", {"email": "race@example.com"}).status_code)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=enrol) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(statuses) == [200] * 5 + [201]
    assert Member.objects.filter(external_id="C-RACE").count() == 1


@pytest.mark.parametrize(
    ("field", "value"), [("referral_code", "ZZZZZZZZ"), ("enrolled_at", "2026-01-05T10:00:00Z")]
)
def test_put_cannot_change_enrolment_only_fields_later(api_client, member, field, value):
    response = put(api_client, member.external_id, {field: value})

    assert_problem(response, HTTPStatus.BAD_REQUEST, "validation_error", field=field)


def test_put_update_to_a_taken_email_is_409(api_client, make_member, member):
    other = make_member(email="other@example.com")

    response = put(api_client, other.external_id, {"email": "ada@example.com"})

    assert_problem(response, HTTPStatus.CONFLICT, "email_taken", field="email")
    other.refresh_from_db()
    assert other.email == "other@example.com"


def test_put_of_an_erased_member_is_410(api_client, member, system_actor):
    member_services.member_erase(member=member, actor=system_actor)

    response = put(api_client, member.external_id, {"email": "new@example.com"})

    assert_problem(response, HTTPStatus.GONE, "member_erased")
    member.refresh_from_db()
    assert member.email is None


def test_put_refuses_unknown_fields_naming_them(api_client, member):
    response = put(api_client, member.external_id, {"emial": "x@example.com", "tier": "gold"})

    assert_problem(response, HTTPStatus.BAD_REQUEST, "validation_error")
    assert response.json()["errors"] == [
        {"field": "emial", "message": "Unknown field."},
        {"field": "tier", "message": "Unknown field."},
    ]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": None}, "email"),
        ({"email": ""}, "email"),
        ({"email": "not-an-email"}, "email"),
        ({"email": 42}, "email"),
        ({"email": ["a@example.com"]}, "email"),
        ({"first_name": "x" * 1_000_000}, "first_name"),
        ({"first_name": None}, "first_name"),
        ({"first_name": {"a": 1}}, "first_name"),
        ({"first_name": "Ada\x00"}, "first_name"),
        ({"phone": "1" * 33}, "phone"),
        ({"birth_date": "1815-13-45"}, "birth_date"),
        ({"birth_date": "2999-01-01"}, "birth_date"),
        ({"marketing_consent": "maybe"}, "marketing_consent"),
        ({"marketing_consent": None}, "marketing_consent"),
        ({"referral_code": "x" * 17}, "referral_code"),
        ({"enrolled_at": 1767607200}, "enrolled_at"),
    ],
)
def test_put_bad_field_values_are_400_naming_the_field(api_client, member, body, field):
    response = put(api_client, member.external_id, body)

    assert_problem(response, HTTPStatus.BAD_REQUEST, "validation_error", field=field)


@pytest.mark.parametrize("body", [[], ["email"], "a@example.com", 42, None, True])
def test_put_a_body_that_is_not_an_object_is_400(api_client, member, body):
    response = api_client.put(
        url(member.external_id), data=json.dumps(body), content_type="application/json"
    )

    assert_problem(response, HTTPStatus.BAD_REQUEST, "validation_error")


@pytest.mark.parametrize(
    "body",
    [
        '{"email": ',
        "{'email': 'a@example.com'}",
        "\xff\xfe",
        "NaN",
        '{"first_name": Infinity}',
        '{"first_name": 1e999}',
        '{"first_name": "\\ud800"}',
        "[" * 100_000 + "]" * 100_000,
        '{"a":' * 100_000 + "1" + "}" * 100_000,
        '{"first_name": ' + "9" * 5000 + "}",
    ],
    ids=[
        "truncated",
        "quotes",
        "bytes",
        "nan",
        "infinity",
        "overflow",
        "surrogate",
        "deep-list",
        "deep-object",
        "huge-int",
    ],
)
def test_put_malformed_json_is_400_malformed_json(api_client, member, body):
    response = api_client.put(url(member.external_id), data=body, content_type="application/json")

    assert_problem(response, HTTPStatus.BAD_REQUEST, "malformed_json")


def test_put_in_another_format_than_json_is_415(api_client, member):
    response = api_client.put(
        url(member.external_id), data="email=a@example.com", content_type="text/plain"
    )

    assert_problem(response, HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")


# --- external_id ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "external_id",
    ["a" * 65, "C%201001", "Zo%C3%AB", "C%00", "C%3F1", "a'b", "%3Cscript%3E"],
)
@pytest.mark.parametrize("method", ["put", "get", "delete"])
def test_an_external_id_outside_the_alphabet_is_400(api_client, external_id, method):
    response = getattr(api_client, method)(url(external_id), {"email": "a@example.com"})

    assert_problem(response, HTTPStatus.BAD_REQUEST, "validation_error", field="external_id")
    assert Member.objects.count() == 0


def test_an_external_id_with_a_slash_names_no_endpoint_404_problem(api_client):
    response = api_client.get(url("C%2F1"))

    assert_problem(response, HTTPStatus.NOT_FOUND, "not_found")


@pytest.mark.parametrize("external_id", ["a", "a" * 64, "C-1001", "shop:42", "a.b_c@d-e"])
def test_every_allowed_external_id_can_enrol(api_client, external_id):
    response = put(api_client, external_id, {"email": "a@example.com"})

    assert response.status_code == HTTPStatus.CREATED
    assert response.json()["external_id"] == external_id


# --- GET --------------------------------------------------------------------------------------


def test_get_answers_the_summary_of_a_member_who_never_earned(api_client, member):
    response = api_client.get(url(member.external_id))

    assert response.status_code == HTTPStatus.OK
    assert response["Content-Type"] == "application/json"
    assert response.json() == summary(member)


def _credit(member, points: int, *, key: str, available_at, expires_at) -> None:
    with transaction.atomic():
        account = account_lock(member_id=member.pk)
        credits_post(
            account=account,
            credits=[
                NewCredit(
                    kind=PostingKind.EARN,
                    points=points,
                    idempotency_key=key,
                    available_at=available_at,
                    expires_at=expires_at,
                )
            ],
            actor=Actor.system("tests"),
        )


def _local(day: dt.date, hour: int) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour)))


def test_get_answers_the_balance_and_what_expires_in_the_next_90_days_per_day(
    api_client, member, system_actor
):
    today = timezone.localdate()
    past = timezone.now() - dt.timedelta(days=1)
    in_30, in_60, in_120 = (today + dt.timedelta(days=d) for d in (30, 60, 120))
    _credit(member, 200, key="a", available_at=past, expires_at=_local(in_30, 9))
    _credit(member, 50, key="b", available_at=past, expires_at=_local(in_30, 18))
    _credit(member, 100, key="c", available_at=past, expires_at=_local(in_60, 12))
    _credit(member, 70, key="d", available_at=past, expires_at=_local(in_120, 12))
    _credit(member, 10, key="e", available_at=past, expires_at=None)
    # Pending points are not spendable yet, so they are not "expiring" either.
    _credit(
        member,
        300,
        key="f",
        available_at=timezone.now() + dt.timedelta(days=10),
        expires_at=_local(in_60, 12),
    )
    with transaction.atomic():
        points_spend(member=member, points=30, actor=system_actor, idempotency_key="spend-1")

    response = api_client.get(url(member.external_id))

    assert response.status_code == HTTPStatus.OK
    assert response.json()["points"] == {
        "available": 400,
        "pending": 300,
        "lifetime_earned": 730,
        "expiring": [
            {"points": 220, "on": in_30.isoformat()},
            {"points": 100, "on": in_60.isoformat()},
        ],
    }


def test_get_of_an_unknown_member_is_404(api_client):
    response = api_client.get(url("C-404"))

    assert_problem(response, HTTPStatus.NOT_FOUND, "member_not_found")


def test_get_of_an_erased_member_is_410(api_client, member, system_actor):
    member_services.member_erase(member=member, actor=system_actor)

    response = api_client.get(url(member.external_id))

    assert_problem(response, HTTPStatus.GONE, "member_erased")


def test_get_of_a_suspended_member_shows_the_status(api_client, member, system_actor):
    member_services.member_set_status(
        member=member, status="suspended", actor=system_actor, reason="fraud check"
    )

    response = api_client.get(url(member.external_id))

    assert response.status_code == HTTPStatus.OK
    assert response.json()["status"] == "suspended"


def test_get_takes_a_bounded_number_of_queries(api_client, member, django_assert_max_num_queries):
    # API key, member, account, expiring lots, the tier ladder (none configured here; with
    # tiers see tests/loyalty/test_tiers_summary.py), the program settings (the member's
    # language when they chose none; with tiers the same read serves both), the paid
    # membership (`memberships`: none here, so its plan's perks are not read), the clubs
    # (`segments`: none here, so their perks are not read).
    with django_assert_max_num_queries(8):
        response = api_client.get(url(member.external_id))

    assert response.status_code == HTTPStatus.OK


# --- DELETE -----------------------------------------------------------------------------------


def test_delete_erases_the_member_and_later_reads_are_410(api_client, member):
    response = api_client.delete(url(member.external_id))

    assert response.status_code == HTTPStatus.NO_CONTENT
    assert response.content == b""
    member.refresh_from_db()
    assert (member.status, member.email, member.first_name) == ("erased", None, "")
    entry = AuditEntry.objects.get(action="member.erase")
    assert (entry.actor_kind, entry.actor_api_key_id) == ("api", api_client.api_key.pk)
    assert_problem(api_client.get(url(member.external_id)), HTTPStatus.GONE, "member_erased")


def test_delete_of_an_erased_member_answers_204_again_and_changes_nothing(api_client, member):
    api_client.delete(url(member.external_id))

    response = api_client.delete(url(member.external_id))

    assert response.status_code == HTTPStatus.NO_CONTENT
    assert AuditEntry.objects.filter(action="member.erase").count() == 1


def test_delete_of_an_unknown_member_is_404(api_client):
    response = api_client.delete(url("C-404"))

    assert_problem(response, HTTPStatus.NOT_FOUND, "member_not_found")


def test_the_erased_email_can_enrol_a_new_member(api_client, member):
    api_client.delete(url(member.external_id))

    response = put(api_client, "C-2002", {"email": "ada@example.com"})

    assert response.status_code == HTTPStatus.CREATED


# --- authentication ---------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["put", "get", "delete"])
def test_every_member_endpoint_needs_an_api_key(anon_client, member, method):
    response = getattr(anon_client, method)(url(member.external_id), {}, format="json")

    assert_problem(response, HTTPStatus.UNAUTHORIZED, "unauthenticated")
    assert response["WWW-Authenticate"] == "Api-Key"
    member.refresh_from_db()
    assert member.status == "active"


def test_put_gives_an_imported_member_without_email_their_email(api_client, tmp_path):
    # given a customer a historical import brought without an email (Online Retail has none)
    path = tmp_path / "orders.csv"
    path.write_text(
        "order_id,customer_id,email,placed_at,total,currency\n"
        "O-1,17850,,2025-01-02T10:00:00+00:00,10.00,GBP\n"
    )
    import_orders(path=path, actor=Actor.system("tests"))
    assert Member.objects.get(external_id="17850").email is None

    response = api_client.put("/api/v1/members/17850", {"email": "Ada@Example.com"}, format="json")

    assert (response.status_code, response.json()["email"]) == (HTTPStatus.OK, "ada@example.com")
    assert Member.objects.get(external_id="17850").email == "ada@example.com"
