"""Contract: `PUT/GET/DELETE /api/v1/members/{external_id}` as api.md writes them.

The member summary example of the spec is walked key by key: every field it shows must be there,
with the JSON type it shows, for a member in the same situation (Gold, on the way to Platinum,
points pending and expiring, perks).
"""

from __future__ import annotations

import datetime as dt
from http import HTTPStatus

import pytest
from django.utils import timezone

from loyalty.models import Posting
from loyalty.services.jobs import daily_jobs_run
from members.models import Member
from members.services import member_erase
from tests.contract.conftest import (
    assert_date,
    assert_instant,
    assert_int,
    assert_money,
    assert_problem,
)

DAY = dt.timedelta(days=1)
# What an entry-tier member legitimately lacks: nothing to keep, nothing held, nothing expiring.
ENTRY_TIER_NULLS = frozenset({"$.tier.held_until", "$.progress.keep_tier", "$.points.expiring"})

# The spec's example, verbatim: its keys and the JSON type of each value are the contract.
SPEC_SUMMARY_EXAMPLE = {
    "external_id": "C-1001",
    "email": "a@example.com",
    "first_name": "Ada",
    "last_name": "L",
    "status": "active",
    "enrolled_at": "2026-01-05T10:00:00Z",
    "referral_code": "K7Q2M9XD",
    "tier": {
        "code": "gold",
        "name": "Gold",
        "since": "2026-03-01T12:00:00Z",
        "held_until": "2027-03-01T12:00:00Z",
        "multiplier": "1.50",
        "override_until": None,
    },
    "points": {
        "available": 1200,
        "pending": 300,
        "lifetime_earned": 5400,
        "expiring": [{"points": 200, "on": "2027-01-31"}],
    },
    "progress": {
        "metric": "qualifying_spend",
        "currency": "GBP",
        "window_start": "2025-11-23",
        "window_end": "2026-11-23",
        "qualifying_spend": "820.00",
        "next_tier": {"code": "platinum", "threshold": "1000.00", "remaining": "180.00"},
        "keep_tier": {"threshold": "500.00", "remaining": "0.00", "by": "2027-03-01"},
        "explanation": "Spend £180.00 more by 23 Nov 2026 to reach Platinum. "
        "Gold is yours until 1 Mar 2027.",
    },
    "perks": [
        {"code": "free_shipping", "name": "Free shipping", "kind": "free_shipping", "value": None}
    ],
}


def _walk(example, actual, path="$", nullable=frozenset()):
    """Every key of `example` is in `actual`, with the same JSON type (null: any value).

    `nullable`: paths that may be null in this situation (an entry tier cannot be lost, so it has
    no `held_until` and no `keep_tier`).
    """
    if example is None or (actual is None and path in nullable):
        return
    if isinstance(example, dict):
        assert isinstance(actual, dict), f"{path}: {actual!r} is not an object"
        for key, value in example.items():
            assert key in actual, f"{path}.{key} is missing"
            _walk(value, actual[key], f"{path}.{key}", nullable)
    elif isinstance(example, list):
        assert isinstance(actual, list), f"{path}: {actual!r} is not an array"
        assert actual or path in nullable, f"{path} is empty"
        for i, item in enumerate(actual):
            _walk(example[0], item, f"{path}[{i}]", nullable)
    elif isinstance(example, bool):
        assert isinstance(actual, bool), f"{path}: {actual!r}"
    elif isinstance(example, int):
        assert isinstance(actual, int), f"{path}: {actual!r}"
        assert not isinstance(actual, bool), f"{path}: {actual!r}"
    else:
        assert isinstance(actual, type(example)), f"{path}: {actual!r} is not {type(example)}"


def _url(external_id: str = "C-1001") -> str:
    return f"/api/v1/members/{external_id}"


@pytest.fixture
def gold_member(ladder, make_member, record_order):
    """Ada, as in the spec: Gold on £820 of spend, some points pending and some expiring soon."""
    now = timezone.now()
    ada = make_member(
        external_id="C-1001",
        email="a@example.com",
        first_name="Ada",
        last_name="L",
        enrolled_at=now - 400 * DAY,
    )
    # Placed 349 days ago: available since day 335, expiring 30 days from now (14 + 365 days).
    old = record_order(ada, "O-1", "500.00", placed_at=now - 349 * DAY)
    recent = record_order(ada, "O-2", "320.00", placed_at=now - DAY)  # pending for 14 days
    daily_jobs_run()  # matures O-1's points
    return ada, old, recent


# --- GET: the summary --------------------------------------------------------------------------


def test_get_summary_has_every_field_of_the_spec_example_with_its_json_type(
    api_client, gold_member
):
    ada, old, recent = gold_member

    response = api_client.get(_url())

    assert response.status_code == HTTPStatus.OK
    assert response["Content-Type"] == "application/json"
    body = response.json()
    _walk(SPEC_SUMMARY_EXAMPLE, body)
    # Values the spec's situation fixes.
    assert (body["external_id"], body["email"], body["first_name"], body["last_name"]) == (
        "C-1001",
        "a@example.com",
        "Ada",
        "L",
    )
    assert body["status"] == "active"
    assert body["referral_code"] == ada.referral_code
    assert_instant(body["enrolled_at"])
    tier = body["tier"]
    assert (tier["code"], tier["name"], tier["multiplier"], tier["override_until"]) == (
        "gold",
        "Gold",
        "1.50",
        None,
    )
    assert_instant(tier["since"])
    assert_instant(tier["held_until"])
    assert body["points"] == {
        "available": old.total,
        "pending": recent.total,
        "lifetime_earned": old.total + recent.total,
        "expiring": [
            {"points": old.total, "on": timezone.localdate(timezone.now() + 30 * DAY).isoformat()}
        ],
    }
    progress = body["progress"]
    assert (progress["metric"], progress["currency"], progress["qualifying_spend"]) == (
        "qualifying_spend",
        "GBP",
        "820.00",
    )
    assert_date(progress["window_start"])
    assert_date(progress["window_end"])
    assert {k: progress["next_tier"][k] for k in ("code", "threshold", "remaining")} == {
        "code": "platinum",
        "threshold": "1000.00",
        "remaining": "180.00",
    }
    assert {k: progress["keep_tier"][k] for k in ("threshold", "remaining")} == {
        "threshold": "500.00",
        "remaining": "0.00",
    }
    assert_date(progress["keep_tier"]["by"])
    assert "Platinum" in progress["explanation"]
    assert {
        "code": "free_shipping",
        "name": "Free shipping",
        "kind": "free_shipping",
        "value": None,
    } in body["perks"]


def test_get_summary_formats_money_dates_and_times_as_the_conventions_say(api_client, gold_member):
    body = api_client.get(_url()).json()

    assert_money(body["tier"]["multiplier"])
    for key in ("qualifying_spend",):
        assert_money(body["progress"][key])
    for block in ("next_tier", "keep_tier"):
        assert_money(body["progress"][block]["threshold"])
        assert_money(body["progress"][block]["remaining"])
    for item in body["points"]["expiring"]:
        assert_int(item["points"])
        assert_date(item["on"])
    for key in ("available", "pending", "lifetime_earned"):
        assert_int(body["points"][key])


def test_get_summary_of_a_new_member_on_the_entry_tier(api_client, ladder, make_member):
    make_member(external_id="C-2", email="new@example.com")

    body = api_client.get(_url("C-2")).json()

    _walk(SPEC_SUMMARY_EXAMPLE, body, nullable=ENTRY_TIER_NULLS)
    assert body["tier"]["code"] == "member"
    assert (body["tier"]["held_until"], body["progress"]["keep_tier"]) == (None, None)
    assert body["points"] == {"available": 0, "pending": 0, "lifetime_earned": 0, "expiring": []}
    assert body["progress"]["qualifying_spend"] == "0.00"
    assert body["progress"]["next_tier"]["remaining"] == "250.00"
    assert [p["code"] for p in body["perks"]] == ["birthday_gift"]


def test_get_of_an_unknown_member_is_404_member_not_found(api_client, db):
    assert_problem(api_client.get(_url("C-404")), HTTPStatus.NOT_FOUND, "member_not_found")


def test_get_of_an_erased_member_is_410_member_erased(api_client, member, system_actor):
    member_erase(member=member, actor=system_actor)

    assert_problem(api_client.get(_url()), HTTPStatus.GONE, "member_erased")


# --- PUT: enrol or update ----------------------------------------------------------------------


def test_put_enrols_with_201_and_the_member_summary(api_client, ladder):
    body = {
        "email": "grace@example.com",
        "first_name": "Grace",
        "last_name": "Hopper",
        "phone": "+44 20 7946 0000",
        "birth_date": "1990-12-09",
        "marketing_consent": True,
        "enrolled_at": "2026-01-05T10:00:00Z",
    }

    response = api_client.put(_url("C-7"), body, format="json")

    assert response.status_code == HTTPStatus.CREATED
    summary = response.json()
    _walk(SPEC_SUMMARY_EXAMPLE, summary, nullable=ENTRY_TIER_NULLS)
    assert (summary["external_id"], summary["email"], summary["first_name"]) == (
        "C-7",
        "grace@example.com",
        "Grace",
    )
    assert summary["status"] == "active"
    assert dt.datetime.fromisoformat(summary["enrolled_at"].replace("Z", "+00:00")) == (
        dt.datetime(2026, 1, 5, 10, 0, tzinfo=dt.UTC)
    )
    member = Member.objects.get(external_id="C-7")
    assert (member.phone, member.birth_date, member.marketing_consent) == (
        "+44 20 7946 0000",
        dt.date(1990, 12, 9),
        True,
    )


def test_put_of_an_existing_member_updates_with_200(api_client, member):
    response = api_client.put(_url(), {"last_name": "Lovelace"}, format="json")

    assert response.status_code == HTTPStatus.OK
    assert response.json()["last_name"] == "Lovelace"
    assert response.json()["email"] == "ada@example.com"


def test_put_enrolment_with_the_referrers_code_links_them(api_client, member):
    response = api_client.put(
        _url("C-8"),
        {"email": "friend@example.com", "referral_code": member.referral_code},
        format="json",
    )

    assert response.status_code == HTTPStatus.CREATED
    assert Member.objects.get(external_id="C-8").referred_by == member


def test_put_enrolment_without_email_is_400_naming_email(api_client, db):
    response = api_client.put(_url("C-9"), {"first_name": "No"}, format="json")

    assert_problem(response, HTTPStatus.BAD_REQUEST, "validation_error", field="email")
    assert not Member.objects.filter(external_id="C-9").exists()


def test_put_with_an_email_taken_is_409_email_taken(api_client, member, make_member):
    make_member(external_id="C-2", email="bob@example.com")

    enrol = api_client.put(_url("C-9"), {"email": "ADA@example.com"}, format="json")
    update = api_client.put(_url("C-2"), {"email": "ada@example.com"}, format="json")

    assert_problem(enrol, HTTPStatus.CONFLICT, "email_taken")
    assert_problem(update, HTTPStatus.CONFLICT, "email_taken")


def test_put_of_an_erased_member_is_410_member_erased(api_client, member, system_actor):
    member_erase(member=member, actor=system_actor)

    response = api_client.put(_url(), {"email": "back@example.com"}, format="json")

    assert_problem(response, HTTPStatus.GONE, "member_erased")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "x@example.com", "emial": "typo"}, "emial"),
        ({"email": "not-an-email"}, "email"),
        ({"email": "x@example.com", "birth_date": "09/12/1990"}, "birth_date"),
        ({"email": "x@example.com", "enrolled_at": "2026-01-05T10:00:00"}, "enrolled_at"),
        ({"email": "x@example.com", "enrolled_at": "2026-01-05"}, "enrolled_at"),
        ({"email": "x@example.com", "referral_code": "NOSUCHCODE"}, "referral_code"),
    ],
)
def test_put_bad_input_is_400_validation_error_naming_the_field(api_client, db, body, field):
    response = api_client.put(_url("C-10"), body, format="json")

    assert_problem(response, HTTPStatus.BAD_REQUEST, "validation_error", field=field)
    assert not Member.objects.filter(external_id="C-10").exists()


@pytest.mark.parametrize(
    "external_id", ["a", "A-z_0.9:x@y", "x" * 64, "shop:customer@eu-1", "123456"]
)
def test_external_ids_of_1_to_64_allowed_characters_are_accepted(api_client, db, external_id):
    response = api_client.put(_url(external_id), {"email": "ok@example.com"}, format="json")

    assert response.status_code == HTTPStatus.CREATED
    assert response.json()["external_id"] == external_id


@pytest.mark.parametrize("external_id", ["x" * 65, "has%20space", "hash%23", "caf%C3%A9"])
def test_external_ids_outside_the_spec_are_refused_with_400(api_client, db, external_id):
    response = api_client.put(_url(external_id), {"email": "no@example.com"}, format="json")

    assert_problem(response, HTTPStatus.BAD_REQUEST, "validation_error", field="external_id")
    assert Member.objects.count() == 0


# --- DELETE: erasure ---------------------------------------------------------------------------


def test_delete_erases_with_204_the_ledger_stays_and_later_reads_are_410(
    api_client, member, give_points
):
    give_points(member, 300)
    postings_before = Posting.objects.filter(member=member).count()

    response = api_client.delete(_url())

    assert response.status_code == HTTPStatus.NO_CONTENT
    assert response.content == b""
    member.refresh_from_db()
    assert (member.email, member.first_name, member.last_name, member.phone) == (None, "", "", "")
    assert member.birth_date is None
    assert Posting.objects.filter(member=member).count() == postings_before
    assert_problem(api_client.get(_url()), HTTPStatus.GONE, "member_erased")
