"""The members admin: list and search on big tables, writes through services, staff operations."""

from __future__ import annotations

from http import HTTPStatus

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Group, User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from config.admin_tools import EstimatedCountPaginator
from members import services
from members.actors import Actor
from members.models import AuditEntry, Member
from members.roles import CUSTOMER_SERVICE, MARKETING, OPERATOR, SUPERVISOR

CHANGELIST = reverse("admin:members_member_changelist")
ADD = reverse("admin:members_member_add")
AUDIT_CHANGELIST = reverse("admin:members_auditentry_changelist")


MEMBER_TOOLS = {"Suspend", "Reactivate", "Erase personal data"}


def _change_url(member: Member) -> str:
    return reverse("admin:members_member_change", args=[member.pk])


def _member_tools(response) -> list[str]:
    # Apps above add their own tools and panels (loyalty's admin extends this page): look only
    # at this app's.
    return [t.label for t in response.context["member_tools"] if t.label in MEMBER_TOOLS]


def _panel(response, title: str):
    return next(p for p in response.context["member_panels"] if p.title == title)


def _contact_form(member: Member, **overrides) -> dict:
    data = {
        "email": member.email,
        "first_name": member.first_name,
        "last_name": member.last_name,
        "phone": member.phone,
        "birth_date": member.birth_date or "",
        "reason": "",
        "_save": "Save",
    }
    if member.marketing_consent:
        data["marketing_consent"] = "on"
    data.update(overrides)
    return data


@pytest.fixture
def role_client(db, client):
    """`role_client(role)`: a client logged in as a staff user holding one role."""

    def _login(role: str):
        user = User.objects.create_user(
            username=role.lower().replace(" ", ""), password="x", is_staff=True
        )
        user.groups.add(Group.objects.get(name=role))
        client.force_login(user)
        return client

    return _login


@pytest.fixture
def ada(make_member):
    return make_member(
        external_id="C-1001",
        email="ada@example.com",
        first_name="Ada",
        last_name="Lovelace",
        phone="+447700900001",
    )


# --- the list ----------------------------------------------------------------------------------


def test_changelist_lists_members(admin_client, ada):
    response = admin_client.get(CHANGELIST)

    assert response.status_code == HTTPStatus.OK
    assert list(response.context["cl"].result_list) == [ada]
    assert response.context["cl"].full_result_count is None  # no full count


def test_changelist_query_count_does_not_grow_with_members(
    admin_client, make_member, django_assert_max_num_queries
):
    for _ in range(3):
        make_member()
    with CaptureQueriesContext(connection) as few:
        admin_client.get(CHANGELIST)
    for _ in range(40):
        make_member()

    with django_assert_max_num_queries(len(few.captured_queries)):
        response = admin_client.get(CHANGELIST)

    assert response.status_code == HTTPStatus.OK
    assert len(response.context["cl"].result_list) == 43


@pytest.mark.parametrize(
    "query",
    [
        "C-1001",  # external id
        "ADA@example.com",  # email, any case
        "+447700900001",  # phone
        "+44 7700 900001",  # phone with spaces
        "love",  # surname prefix
        "Lovelace, A",  # surname, first-name prefix
        "Ada Lovelace",  # first and last name
        "lovelace ada",  # last and first name
    ],
)
def test_search_finds_the_member(admin_client, ada, make_member, query):
    make_member(external_id="C-2002", first_name="Charles", last_name="Babbage")

    response = admin_client.get(CHANGELIST, {"q": query})

    assert response.status_code == HTTPStatus.OK
    assert [m.external_id for m in response.context["cl"].result_list] == ["C-1001"]


def test_search_by_referral_code(admin_client, ada):
    response = admin_client.get(CHANGELIST, {"q": ada.referral_code.lower()})

    assert [m.external_id for m in response.context["cl"].result_list] == ["C-1001"]


@pytest.mark.parametrize("query", ["C-100", "da@example.com", "ovelace", "Ada", "7700900001"])
def test_search_matches_no_substrings(admin_client, ada, query):
    # Only indexed lookups: exact ids, exact email, exact phone, name prefixes.
    response = admin_client.get(CHANGELIST, {"q": query})

    assert list(response.context["cl"].result_list) == []


def test_search_escapes_like_wildcards(admin_client, ada, make_member):
    make_member(external_id="C-3003", last_name="L%vel")

    response = admin_client.get(CHANGELIST, {"q": "l%"})

    assert [m.external_id for m in response.context["cl"].result_list] == ["C-3003"]


@pytest.mark.postgres
@pytest.mark.parametrize("query", ["C-1001", "ada@example.com", "+447700900001", "lovel", "a b c"])
def test_search_uses_only_indexes_on_postgresql(ada, query):
    from members.selectors import member_search

    sql, params = member_search(term=query).query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())

    # With sequential scans priced out, a condition no index can answer still forces one.
    assert "Seq Scan" not in plan, plan


@pytest.mark.postgres
def test_unfiltered_count_is_the_planner_estimate_on_postgresql(make_member):
    for _ in range(3):
        make_member()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE members_member")

    class Paginator(EstimatedCountPaginator):
        exact_below = 1

    with CaptureQueriesContext(connection) as queries:
        paginator = Paginator(Member.objects.all(), 50)
        count = paginator.count

    assert (count, paginator.count_is_estimate) == (3, True)
    assert not any("COUNT(" in q["sql"].upper() for q in queries.captured_queries)


def test_filtered_count_is_exact(make_member):
    make_member()
    make_member()

    paginator = EstimatedCountPaginator(Member.objects.filter(status="active"), 50)

    assert (paginator.count, paginator.count_is_estimate) == (2, False)


# --- add and change go through the services ------------------------------------------------


def test_add_enrols_through_the_service(admin_client, admin_user, ada):
    response = admin_client.post(
        ADD,
        {
            "external_id": "C-2002",
            "email": "Charles@Example.com",
            "referrer_code": ada.referral_code,
            "first_name": "Charles",
            "last_name": "Babbage",
            "phone": "",
            "birth_date": "",
            "_save": "Save",
        },
    )

    assert response.status_code == HTTPStatus.FOUND
    member = Member.objects.get(external_id="C-2002")
    assert (member.email, member.referred_by, len(member.referral_code)) == (
        "charles@example.com",
        ada,
        8,
    )
    entry = AuditEntry.objects.get(member=member, action="member.enrol")
    assert (entry.actor_kind, entry.actor_user) == ("staff", admin_user)


def test_add_refuses_an_email_taken_in_another_case(admin_client, ada):
    response = admin_client.post(
        ADD,
        {
            "external_id": "C-2002",
            "email": "ADA@example.com",
            "referrer_code": "",
            "_save": "Save",
        },
    )

    assert response.status_code == HTTPStatus.OK
    assert response.context["adminform"].form.errors["email"] == [
        "Another member already uses this email."
    ]
    assert not Member.objects.filter(external_id="C-2002").exists()


def test_add_refuses_an_unknown_referral_code(admin_client):
    response = admin_client.post(
        ADD,
        {"external_id": "C-2002", "email": "c@example.com", "referrer_code": "ZZZZ", "_save": "1"},
    )

    assert response.status_code == HTTPStatus.OK
    assert "referrer_code" in response.context["adminform"].form.errors
    assert not Member.objects.filter(external_id="C-2002").exists()


def test_change_updates_contact_details_through_the_service(role_client, ada):
    client = role_client(CUSTOMER_SERVICE)

    response = client.post(
        _change_url(ada), _contact_form(ada, phone="+447700900999", reason="Customer called")
    )

    assert response.status_code == HTTPStatus.FOUND
    ada.refresh_from_db()
    assert ada.phone == "+447700900999"
    entry = AuditEntry.objects.get(member=ada, action="member.update")
    assert (entry.changes, entry.reason, entry.actor_label) == (
        {"phone": ["+447700900001", "+447700900999"]},
        "Customer called",
        "customerservice",
    )


def test_saving_an_unchanged_form_records_nothing(admin_client, ada):
    admin_client.post(_change_url(ada), _contact_form(ada))

    assert AuditEntry.objects.filter(member=ada, action="member.update").count() == 0


def test_marketing_reads_members_but_cannot_change_them(role_client, ada):
    client = role_client(MARKETING)

    page = client.get(_change_url(ada))
    post = client.post(_change_url(ada), _contact_form(ada, phone="+1"))

    assert page.status_code == HTTPStatus.OK
    assert page.context["has_change_permission"] is False
    assert post.status_code == HTTPStatus.FORBIDDEN
    ada.refresh_from_db()
    assert ada.phone == "+447700900001"


def test_nobody_deletes_a_member(admin_client, ada):
    response = admin_client.post(
        reverse("admin:members_member_delete", args=[ada.pk]), {"post": "yes"}
    )

    assert response.status_code == HTTPStatus.FORBIDDEN
    assert Member.objects.filter(pk=ada.pk).exists()


def test_change_page_shows_the_audit_trail_and_the_tools(role_client, ada):
    response = role_client(SUPERVISOR).get(_change_url(ada))

    assert response.status_code == HTTPStatus.OK
    panel = _panel(response, "Audit trail")
    assert [e.action for e in panel.context["entries"]] == ["member.enrol"]
    assert _member_tools(response) == ["Suspend", "Erase personal data"]
    assert b"member.enrol" in response.content


def test_customer_service_gets_no_erase_tool(role_client, ada):
    response = role_client(CUSTOMER_SERVICE).get(_change_url(ada))

    assert _member_tools(response) == ["Suspend"]


# --- suspend, reactivate, erase ----------------------------------------------------------------


def test_suspend_and_reactivate_with_a_reason(role_client, ada):
    client = role_client(CUSTOMER_SERVICE)
    url = reverse("admin:members_member_status", args=[ada.pk])

    assert client.get(url).status_code == HTTPStatus.OK
    client.post(url, {"reason": "Suspected fraud"})
    ada.refresh_from_db()
    suspended = ada.status
    client.post(url, {"reason": "Cleared"})
    ada.refresh_from_db()

    assert (suspended, ada.status) == ("suspended", "active")
    entries = AuditEntry.objects.filter(member=ada, action="member.status").order_by("id")
    assert [(e.changes["status"], e.reason) for e in entries] == [
        (["active", "suspended"], "Suspected fraud"),
        (["suspended", "active"], "Cleared"),
    ]


def test_status_change_needs_a_reason(role_client, ada):
    client = role_client(CUSTOMER_SERVICE)

    response = client.post(reverse("admin:members_member_status", args=[ada.pk]), {"reason": ""})

    assert response.status_code == HTTPStatus.OK
    assert "reason" in response.context["form"].errors
    ada.refresh_from_db()
    assert ada.status == "active"


def test_marketing_cannot_suspend(role_client, ada):
    client = role_client(MARKETING)

    response = client.post(reverse("admin:members_member_status", args=[ada.pk]), {"reason": "x"})

    assert response.status_code == HTTPStatus.FORBIDDEN


def test_supervisor_erases_a_member_and_the_admin_log_forgets_the_name(role_client, ada):
    client = role_client(SUPERVISOR)
    client.post(_change_url(ada), _contact_form(ada, phone="+447700900002"))  # an admin log line
    url = reverse("admin:members_member_erase", args=[ada.pk])

    response = client.post(url, {"reason": "GDPR request #12", "confirm": "on"})

    assert response.status_code == HTTPStatus.FOUND
    ada.refresh_from_db()
    assert (ada.status, ada.email, ada.first_name) == ("erased", None, "")
    assert AuditEntry.objects.get(member=ada, action="member.erase").reason == "GDPR request #12"
    reprs = set(
        LogEntry.objects.filter(object_id=str(ada.pk)).values_list("object_repr", flat=True)
    )
    assert reprs == {"C-1001 (erased)"}


def test_erasure_needs_confirmation(role_client, ada):
    client = role_client(SUPERVISOR)

    response = client.post(
        reverse("admin:members_member_erase", args=[ada.pk]), {"reason": "GDPR request"}
    )

    assert response.status_code == HTTPStatus.OK
    assert "confirm" in response.context["form"].errors
    ada.refresh_from_db()
    assert ada.status == "active"


@pytest.mark.parametrize("role", [CUSTOMER_SERVICE, MARKETING, OPERATOR])
def test_only_supervisors_erase(role_client, ada, role):
    client = role_client(role)

    response = client.post(
        reverse("admin:members_member_erase", args=[ada.pk]), {"reason": "x", "confirm": "on"}
    )

    assert response.status_code == HTTPStatus.FORBIDDEN
    ada.refresh_from_db()
    assert ada.status == "active"


def test_an_erased_member_is_read_only(admin_client, ada, system_actor):
    services.member_erase(member=ada, actor=system_actor)

    page = admin_client.get(_change_url(ada))
    erase = admin_client.get(reverse("admin:members_member_erase", args=[ada.pk]))

    assert page.status_code == HTTPStatus.OK
    assert page.context["has_change_permission"] is False
    assert _member_tools(page) == []
    assert erase.status_code == HTTPStatus.FOUND


# --- the audit log -----------------------------------------------------------------------------


def test_audit_log_lists_and_searches(admin_client, ada, make_member):
    other = make_member(external_id="C-2002")
    services.member_update(
        member=ada, actor=Actor.system("tests"), reason="typo", first_name="Augusta"
    )

    listing = admin_client.get(AUDIT_CHANGELIST)
    by_member = admin_client.get(AUDIT_CHANGELIST, {"q": "C-1001"})
    by_target = admin_client.get(AUDIT_CHANGELIST, {"q": f"members.member:{other.pk}"})
    by_id = admin_client.get(AUDIT_CHANGELIST, {"q": str(other.pk)})
    filtered = admin_client.get(AUDIT_CHANGELIST, {"member": ada.pk, "action": "member.update"})

    assert listing.status_code == HTTPStatus.OK
    assert len(listing.context["cl"].result_list) == 3
    assert [e.action for e in by_member.context["cl"].result_list] == [
        "member.update",
        "member.enrol",
    ]
    assert [e.member for e in by_target.context["cl"].result_list] == [other]
    assert [e.member for e in by_id.context["cl"].result_list] == [other]
    assert [e.reason for e in filtered.context["cl"].result_list] == ["typo"]


def test_audit_log_is_read_only_even_for_superusers(admin_client, ada):
    entry = AuditEntry.objects.get(member=ada)

    add = admin_client.get(reverse("admin:members_auditentry_add"))
    change = admin_client.post(
        reverse("admin:members_auditentry_change", args=[entry.pk]), {"reason": "edited"}
    )
    delete = admin_client.post(
        reverse("admin:members_auditentry_delete", args=[entry.pk]), {"post": "yes"}
    )

    assert (add.status_code, change.status_code, delete.status_code) == (
        HTTPStatus.FORBIDDEN,
        HTTPStatus.FORBIDDEN,
        HTTPStatus.FORBIDDEN,
    )
    entry.refresh_from_db()
    assert entry.reason == ""


def test_customer_service_cannot_open_the_audit_log(role_client, ada):
    response = role_client(CUSTOMER_SERVICE).get(AUDIT_CHANGELIST)

    assert response.status_code == HTTPStatus.FORBIDDEN
