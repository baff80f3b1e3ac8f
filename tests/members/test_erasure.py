"""An erased member is forgotten: no personal value they ever had is left in the database or in
the import's kept files; the ledger, orders and statistics stay (docs/privacy.md).

The dump reads every column of every table of the test database (both engines), in this test's
transaction, as text.
"""

from __future__ import annotations

import io
from http import HTTPStatus
from pathlib import Path

import pytest
from django.contrib.admin.models import LogEntry
from django.core.management import call_command
from django.db import connection
from django.urls import reverse

from idempotency.models import IdempotencyRecord
from loyalty.models import Account, Order, Posting
from loyalty.services.adjustments import adjustment_request
from members import erasure
from members.models import AuditEntry, Member
from members.roles import SUPERVISOR
from tests.loyalty.staff import actor_for, client_for, staff_user

EMAIL_A = "augusta.kingsbury@example.org"
EMAIL_B = "a.kingsbury-work@example.net"
PHONE_1 = "+447700900321"
PHONE_2 = "+447700900987"
FIRST = "Augustina"
SURNAME_1 = "Kingsbury"
SURNAME_2 = "Lovelace-Byrne"
BIRTH = "1961-03-07"
EVERY_VALUE = (EMAIL_A, EMAIL_B, PHONE_1, PHONE_2, FIRST, SURNAME_1, SURNAME_2, BIRTH)


def database_dump() -> str:
    """Every value of every column of every table, as lower-cased text, one row a line."""
    lines = []
    with connection.cursor() as cursor:
        for table in sorted(connection.introspection.table_names(cursor)):
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            lines.extend(
                f"{table}: " + " | ".join(str(value) for value in row) for row in cursor.fetchall()
            )
    return "\n".join(lines).lower()


def hits(text: str, values=EVERY_VALUE) -> list[str]:
    return [value for value in values if value.lower() in text]


def kept_files(folder: Path) -> str:
    return "\n".join(p.read_text() for p in sorted(folder.rglob("*")) if p.is_file()).lower()


@pytest.fixture
def uploads(settings, tmp_path) -> Path:
    settings.IMPORT_UPLOAD_DIR = tmp_path / "uploads"
    settings.IMPORT_UPLOAD_DIR.mkdir()
    return settings.IMPORT_UPLOAD_DIR


def _shopify_preview(client, rows: list[str]) -> None:
    """Upload a Shopify export through the admin and stop at the preview (the file is kept)."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    header = "Name,Email,Financial Status,Paid at,Currency,Subtotal,Total,Billing Name\n"
    upload = SimpleUploadedFile("orders.csv", (header + "\n".join(rows) + "\n").encode())
    response = client.post(
        reverse("admin:loyalty_importrun_import"), {"file": upload, "format": "shopify"}
    )
    assert response.status_code == HTTPStatus.OK


def _history(api_client, external_id: str) -> None:
    """Enrol, change email twice, phone, surname; two orders, an idempotent activity and a
    feedback comment naming the member."""
    url = f"/api/v1/members/{external_id}"
    enrol = {"email": EMAIL_A, "first_name": FIRST, "last_name": SURNAME_1, "phone": PHONE_1}
    # Enrolled before the orders below are placed (an order before enrolment is refused).
    enrol |= {"birth_date": BIRTH, "enrolled_at": "2025-12-01T09:00:00Z"}
    assert api_client.put(url, enrol, format="json").status_code == 201
    for change in ({"email": EMAIL_B}, {"phone": PHONE_2}, {"last_name": SURNAME_2}):
        assert api_client.put(url, change, format="json").status_code == HTTPStatus.OK
    for order_id, total in (("O-1", "120.00"), ("O-2", "30.50")):
        body = {
            "order_id": order_id,
            "member": external_id,
            "placed_at": "2026-01-05T10:00:00Z",
            "currency": "GBP",
            "total": total,
        }
        assert api_client.post("/api/v1/orders", body, format="json").status_code == 201
    activity = api_client.post(
        f"{url}/activities",
        {"type": "review", "reference": "r-1"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="k-1",
    )
    assert activity.status_code == HTTPStatus.OK
    feedback = api_client.post(
        f"{url}/feedback",
        {"score": 9, "comment": f"Lovely service, {FIRST} {SURNAME_2}", "order_id": "O-1"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="k-2",
    )
    assert feedback.status_code == HTTPStatus.CREATED
    # The welcome message (queued at enrolment) sent: its logged subject names the member.
    from messaging.models import MessageLog
    from messaging.sending import messages_send

    assert messages_send(message_ids=list(MessageLog.objects.values_list("pk", flat=True))) == 1


def _staff_touches(supervisor, member: Member) -> None:
    """An admin edit (the admin log names the member), a staff adjustment quoting the surname."""
    client = client_for(supervisor)
    data = {
        "email": EMAIL_B,
        "first_name": FIRST,
        "last_name": SURNAME_2,
        "phone": PHONE_2,
        "birth_date": BIRTH,
        "marketing_consent": "on",
        "reason": f"{FIRST} {SURNAME_2} asked by phone",
    }
    response = client.post(reverse("admin:members_member_change", args=[member.pk]), data)
    assert response.status_code == HTTPStatus.FOUND, response.context["adminform"].form.errors
    adjustment_request(
        member=member,
        points=25,
        reason=f"Goodwill: parcel lost, Mrs {SURNAME_2} ({EMAIL_B})",
        actor=actor_for(supervisor),
    )


def _ledger_state(member: Member) -> tuple:
    account = Account.objects.get(member=member)
    postings = list(
        Posting.objects.filter(member=member).order_by("pk").values_list("kind", "points")
    )
    orders = list(
        Order.objects.filter(member=member).order_by("order_id").values_list("order_id", "total")
    )
    return account.available, account.pending, postings, orders


@pytest.mark.django_db
def test_api_erasure_forgets_every_value_the_member_ever_had(api_client, uploads):
    # given: a Shopify-style member (their external id is their first email), a history of
    # changes through the API and the admin, and an import preview that names them
    external_id = EMAIL_A
    _history(api_client, external_id)
    member = Member.objects.get(external_id=external_id)
    supervisor = staff_user(SUPERVISOR, "supervisor", superuser=True)
    _staff_touches(supervisor, member)
    _shopify_preview(
        client_for(supervisor),
        [
            f"#1001,{EMAIL_A},paid,2026-01-05 10:00:00 +0000,GBP,10.00,10.00,{FIRST} {SURNAME_1}",
            "#1002,other@example.com,paid,2026-01-05 11:00:00 +0000,GBP,5.00,5.00,Ed Other",
        ],
    )
    assert hits(database_dump()) == list(EVERY_VALUE)  # the test can see them
    assert hits(kept_files(uploads)) == [EMAIL_A, FIRST, SURNAME_1]
    before = _ledger_state(member)
    audit_count = AuditEntry.objects.filter(member=member).count()

    # when
    response = api_client.delete(f"/api/v1/members/{external_id}")

    # then: the storefront learns the pseudonym; nothing personal is left anywhere
    pseudonym = erasure.external_id_pseudonym(EMAIL_A)
    assert response.status_code == HTTPStatus.NO_CONTENT
    assert response["External-Id-Replaced-By"] == pseudonym
    assert pseudonym.startswith("erased-")
    assert len(pseudonym) == 39
    assert hits(database_dump()) == []
    assert hits(kept_files(uploads)) == []
    assert "other@example.com" in kept_files(uploads)  # other customers' rows stay as they were
    # the ledger, orders and statistics stay exactly (the feedback's score, not its comment)
    member.refresh_from_db()
    assert member.external_id == pseudonym
    assert list(member.feedback.values_list("score", "comment")) == [(9, "")]
    assert _ledger_state(member) == before
    assert before[0] == 150 + 25  # 120.00 + 30.50 earn 150 points (floor), then the adjustment
    # the audit trail keeps that each change happened, who made it and when
    assert AuditEntry.objects.filter(member=member).count() == audit_count + 1
    update = AuditEntry.objects.filter(member=member, action="member.update").order_by("pk")
    assert [entry.changes for entry in update[:3]] == [
        {"email": ["(erased)", "(erased)"]},
        {"phone": ["(erased)", "(erased)"]},
        {"last_name": ["(erased)", "(erased)"]},
    ]
    assert [entry.actor_kind for entry in update[:3]] == ["api", "api", "api"]
    # the stored answer is still found by the storefront's retry under the member's endpoint
    record = IdempotencyRecord.objects.get(key="k-1")
    assert record.endpoint == f"POST /api/v1/members/{pseudonym}/activities"
    # the old id still names the erased member
    assert api_client.get(f"/api/v1/members/{external_id}").status_code == HTTPStatus.GONE
    again = api_client.delete(f"/api/v1/members/{external_id}")
    assert again.status_code == HTTPStatus.NO_CONTENT
    assert again["External-Id-Replaced-By"] == pseudonym


@pytest.mark.django_db
def test_admin_erasure_forgets_every_value_the_member_ever_had(api_client, uploads):
    # given: a member with a storefront id that is not personal
    external_id = "C-77001"
    _history(api_client, external_id)
    member = Member.objects.get(external_id=external_id)
    supervisor = staff_user(SUPERVISOR, "supervisor", superuser=True)
    _staff_touches(supervisor, member)
    assert hits(database_dump()) == list(EVERY_VALUE)
    before = _ledger_state(member)

    # when
    response = client_for(supervisor).post(
        reverse("admin:members_member_erase", args=[member.pk]),
        {"reason": f"Erasure request from {EMAIL_B}", "confirm": "on"},
    )

    # then
    assert response.status_code == HTTPStatus.FOUND
    assert hits(database_dump()) == []
    member.refresh_from_db()
    assert (member.external_id, member.status) == ("C-77001", "erased")
    assert _ledger_state(member) == before
    erase = AuditEntry.objects.get(member=member, action="member.erase")
    assert erase.reason == "Erasure request from (erased)"
    assert erase.actor_user_id == supervisor.pk
    assert set(
        LogEntry.objects.filter(object_id=str(member.pk)).values_list("object_repr", flat=True)
    ) == {"C-77001 (erased)"}


def test_scrub_text_replaces_whole_words_only():
    erased = erasure.ErasedMember(
        member=Member(external_id="erased-x"),
        values=frozenset({"Ada", "Ada Lovelace", "ada@example.com"}),
        identifiers=frozenset({"Ada Lovelace", "ada@example.com"}),
    )

    assert erased.scrub_text("Ada Lovelace <ADA@example.com> of Adamstown, Ada.") == (
        "(erased) <(erased)> of Adamstown, (erased)."
    )
    assert erased.scrub_text("Ada and Ada Lovelace", identifiers_only=True) == ("Ada and (erased)")


def test_the_pseudonym_is_stable_and_keyed(settings):
    first = erasure.external_id_pseudonym("Ada@Example.com")

    assert first == erasure.external_id_pseudonym("ada@example.com ")
    settings.SECRET_KEY = "another-key"
    assert erasure.external_id_pseudonym("ada@example.com") != first


def test_a_registered_scrubber_takes_part(member, system_actor):
    seen = []

    def scrubber(*, erasure):
        seen.append((erasure.member.pk, sorted(erasure.values)))
        return 3

    erasure.register_erasure_scrubber(scrubber)
    try:
        from members.services import member_erase

        member_erase(member=member, actor=system_actor)
    finally:
        erasure.erasure_scrubbers.remove(scrubber)

    assert seen == [(member.pk, ["Ada", "ada@example.com"])]


def test_erasing_twice_changes_nothing(member, system_actor):
    from members.services import member_erase

    member_erase(member=member, actor=system_actor)
    count = AuditEntry.objects.count()
    member_erase(member=Member.objects.get(pk=member.pk), actor=system_actor)

    assert AuditEntry.objects.count() == count


@pytest.mark.django_db
def test_complete_erasures_forgets_members_erased_before(api_client, uploads):
    # given: a member erased the way erasure worked before it scrubbed (only the row blanked,
    # the external id kept): made here by writing the row directly, as that service is gone
    external_id = EMAIL_A
    _history(api_client, external_id)
    member = Member.objects.get(external_id=external_id)
    Member.objects.filter(pk=member.pk).update(
        email=None, first_name="", last_name="", phone="", birth_date=None, status="erased"
    )
    # the birth date was only on the row; the audit trail kept the changes, the feedback the name
    assert hits(database_dump()) == [
        EMAIL_A,
        EMAIL_B,
        PHONE_1,
        PHONE_2,
        FIRST,
        SURNAME_1,
        SURNAME_2,
    ]
    before = _ledger_state(member)
    out = io.StringIO()

    # when
    call_command("complete_erasures", stdout=out)

    # then
    assert out.getvalue() == "1 erased members checked, 1 completed.\n"
    assert hits(database_dump()) == []
    member.refresh_from_db()
    assert member.external_id == erasure.external_id_pseudonym(EMAIL_A)
    assert _ledger_state(member) == before
    entry = AuditEntry.objects.get(member=member, action="member.erase.complete")
    assert entry.actor_label == "system:complete_erasures"
    assert entry.changes == {"external_id": ["(erased)", member.external_id]}
    # a second run finds nothing left to do and records nothing
    call_command("complete_erasures", stdout=out)
    assert out.getvalue().splitlines()[-1] == "1 erased members checked, 0 completed."
    assert AuditEntry.objects.filter(action="member.erase.complete").count() == 1
