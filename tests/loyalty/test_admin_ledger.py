"""The ledger in the admin: every list and page opens, nobody edits, Supervisors reverse."""

from __future__ import annotations

from http import HTTPStatus

import pytest
from django.contrib.messages import get_messages
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from loyalty.models import Debt, Posting
from loyalty.models.ledger import PostingKind
from loyalty.services.points import points_adjust_post, points_spend, posting_reverse
from loyalty.services.program import program_settings_update
from members.roles import CUSTOMER_SERVICE, MARKETING, OPERATOR, SUPERVISOR
from tests.loyalty.staff import client_for, staff_user

READ_ONLY_MODELS = ("posting", "lot", "debt", "account", "order", "refund")


def _messages(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def _results(response) -> list:
    return list(response.context["cl"].result_list)


@pytest.fixture
def ledger(member, make_member, record_order, record_refund, system_actor):
    """One of each row: an order with a refund, an adjustment spent and then reversed (a debt)."""
    # placed now: its points stay pending, so the reversal below cannot take them
    record_order(member, "O-1", "100.00", placed_at=timezone.now())
    record_refund("O-1", "R-1", "10.00")
    credit = points_adjust_post(
        member=member, points=50, reason="welcome", actor=system_actor, idempotency_key="adj-1"
    )
    with transaction.atomic():
        points_spend(member=member, points=50, actor=system_actor, idempotency_key="spend-1")
    posting_reverse(posting=credit, reason="granted twice", actor=system_actor)
    other = make_member(external_id="C-OTHER")
    points_adjust_post(
        member=other, points=7, reason="other", actor=system_actor, idempotency_key="adj-2"
    )
    return {"member": member, "credit": credit, "other": other}


def _object_id(model: str, ledger) -> int:
    member = ledger["member"]
    return {
        "posting": ledger["credit"].pk,
        "lot": ledger["credit"].pk,
        "debt": Debt.objects.get(member=member).pk,
        "account": member.pk,
        "order": member.orders.get().pk,
        "refund": member.orders.get().refunds.get().pk,
    }[model]


@pytest.mark.parametrize("model", READ_ONLY_MODELS)
def test_every_ledger_list_and_page_opens(admin_client, ledger, model):
    changelist = admin_client.get(reverse(f"admin:loyalty_{model}_changelist"))
    page = admin_client.get(
        reverse(f"admin:loyalty_{model}_change", args=[_object_id(model, ledger)])
    )

    assert changelist.status_code == HTTPStatus.OK
    assert page.status_code == HTTPStatus.OK
    assert b"delete_selected" not in changelist.content


@pytest.mark.parametrize("model", READ_ONLY_MODELS)
def test_nobody_adds_changes_or_deletes_ledger_rows_not_even_a_superuser(
    admin_client, ledger, model
):
    object_id = _object_id(model, ledger)
    postings_before = Posting.objects.count()

    add = admin_client.get(reverse(f"admin:loyalty_{model}_add"))
    add_post = admin_client.post(reverse(f"admin:loyalty_{model}_add"), {})
    change_post = admin_client.post(reverse(f"admin:loyalty_{model}_change", args=[object_id]), {})
    delete = admin_client.get(reverse(f"admin:loyalty_{model}_delete", args=[object_id]))
    delete_post = admin_client.post(
        reverse(f"admin:loyalty_{model}_delete", args=[object_id]), {"post": "yes"}
    )
    bulk_delete = admin_client.post(
        reverse(f"admin:loyalty_{model}_changelist"),
        {"action": "delete_selected", "_selected_action": [object_id], "post": "yes"},
    )

    assert add.status_code == HTTPStatus.FORBIDDEN
    assert add_post.status_code == HTTPStatus.FORBIDDEN
    assert change_post.status_code == HTTPStatus.FORBIDDEN
    assert delete.status_code == HTTPStatus.FORBIDDEN
    assert delete_post.status_code == HTTPStatus.FORBIDDEN
    # an unknown action is ignored: the list comes back with "No action selected"
    assert bulk_delete.status_code == HTTPStatus.OK
    assert Posting.objects.count() == postings_before == 6


@pytest.mark.parametrize("role", [CUSTOMER_SERVICE, SUPERVISOR, MARKETING, OPERATOR])
def test_roles_read_postings_but_cannot_add_them(ledger, role):
    client = client_for(staff_user(role, "staff"))

    listing = client.get(reverse("admin:loyalty_posting_changelist"))
    add = client.get(reverse("admin:loyalty_posting_add"))

    assert listing.status_code == HTTPStatus.OK
    assert add.status_code == HTTPStatus.FORBIDDEN


@pytest.mark.parametrize(
    ("term", "expected"),
    [
        ("C-OTHER", ["other"]),
        ("adj-1", ["welcome"]),
        ("O-1", ["", ""]),  # the earn and the refund's reversal
        ("nothing-matches", []),
    ],
)
def test_postings_are_searched_by_exact_external_id_key_or_order(
    admin_client, ledger, term, expected
):
    response = admin_client.get(reverse("admin:loyalty_posting_changelist"), {"q": term})

    assert sorted(p.reason for p in _results(response)) == expected


def test_postings_are_filtered_by_kind_and_member(admin_client, ledger):
    url = reverse("admin:loyalty_posting_changelist")

    by_kind = admin_client.get(url, {"kind__exact": "reversal"})
    by_member = admin_client.get(url, {"member__id__exact": ledger["other"].pk})

    assert [p.kind for p in _results(by_kind)] == [PostingKind.REVERSAL]
    assert [p.points for p in _results(by_member)] == [7]


def test_the_posting_list_costs_the_same_few_queries_however_many_rows(
    admin_client, ledger, system_actor, django_assert_max_num_queries
):
    for i in range(40):
        points_adjust_post(
            member=ledger["other"],
            points=1,
            reason="bulk",
            actor=system_actor,
            idempotency_key=f"bulk-{i}",
        )

    with django_assert_max_num_queries(6):
        response = admin_client.get(reverse("admin:loyalty_posting_changelist"))

    assert len(_results(response)) == 46  # 6 + 40, one page (50 a page)


# --- reversing a posting -----------------------------------------------------------------------


def test_a_supervisor_sees_the_reverse_button_and_customer_service_does_not(ledger):
    posting = Posting.objects.get(idempotency_key="adj-2")
    url = reverse("admin:loyalty_posting_change", args=[posting.pk])
    reverse_url = reverse("admin:loyalty_posting_reverse", args=[posting.pk]).encode()

    supervisor_page = client_for(staff_user(SUPERVISOR, "super")).get(url)
    agent_page = client_for(staff_user(CUSTOMER_SERVICE, "agent")).get(url)

    assert reverse_url in supervisor_page.content
    assert reverse_url not in agent_page.content


def test_a_supervisor_reverses_a_posting_with_a_reason(ledger):
    supervisor = staff_user(SUPERVISOR, "super")
    posting = Posting.objects.get(idempotency_key="adj-2")
    url = reverse("admin:loyalty_posting_reverse", args=[posting.pk])
    client = client_for(supervisor)

    form = client.get(url)
    response = client.post(url, {"reason": "posted to the wrong member"})

    assert form.status_code == HTTPStatus.OK
    assert response.status_code == HTTPStatus.FOUND
    reversal = Posting.objects.get(reverses=posting)
    assert reversal.points == -7
    assert reversal.actor_user_id == supervisor.pk
    assert reversal.reason == "posted to the wrong member"
    assert _messages(response) == [
        f"Posting #{posting.pk} reversed by posting #{reversal.pk} (-7 points)."
    ]


def test_reversing_needs_a_reason(ledger):
    posting = Posting.objects.get(idempotency_key="adj-2")
    client = client_for(staff_user(SUPERVISOR, "super"))

    response = client.post(reverse("admin:loyalty_posting_reverse", args=[posting.pk]), {})

    assert response.status_code == HTTPStatus.OK
    assert response.context["form"].errors == {"reason": ["This field is required."]}
    assert not Posting.objects.filter(reverses=posting).exists()


def test_customer_service_cannot_reverse(ledger):
    posting = Posting.objects.get(idempotency_key="adj-2")
    client = client_for(staff_user(CUSTOMER_SERVICE, "agent"))
    url = reverse("admin:loyalty_posting_reverse", args=[posting.pk])

    assert client.get(url).status_code == HTTPStatus.FORBIDDEN
    assert client.post(url, {"reason": "x"}).status_code == HTTPStatus.FORBIDDEN
    assert not Posting.objects.filter(reverses=posting).exists()


@pytest.mark.parametrize(
    ("which", "code"),
    [("already_reversed", "already_reversed"), ("a_reversal", "not_reversible")],
)
def test_reversal_errors_come_back_as_messages_not_500s(ledger, which, code):
    credit = ledger["credit"]  # reversed by the fixture
    posting = credit if which == "already_reversed" else Posting.objects.get(reverses=credit)
    client = client_for(staff_user(SUPERVISOR, "super"))

    response = client.post(
        reverse("admin:loyalty_posting_reverse", args=[posting.pk]), {"reason": "again"}
    )

    assert response.status_code == HTTPStatus.FOUND
    messages = _messages(response)
    assert len(messages) == 1
    assert messages[0].endswith(f"({code})")


def test_reversing_spent_points_without_negative_balances_says_insufficient_points(
    member, system_actor
):
    program_settings_update(actor=system_actor, allow_negative_balance=False)
    credit = points_adjust_post(
        member=member, points=30, reason="x", actor=system_actor, idempotency_key="adj"
    )
    with transaction.atomic():
        points_spend(member=member, points=30, actor=system_actor, idempotency_key="spend")
    client = client_for(staff_user(SUPERVISOR, "super"))

    response = client.post(
        reverse("admin:loyalty_posting_reverse", args=[credit.pk]), {"reason": "mistake"}
    )

    assert response.status_code == HTTPStatus.FOUND
    assert _messages(response) == [
        "Not enough points: 30 needed, 0 available. (insufficient_points)"
    ]
    assert not Posting.objects.filter(reverses=credit).exists()


def test_the_admin_index_lists_the_loyalty_pages(admin_client, db):
    response = admin_client.get(reverse("admin:app_list", args=["loyalty"]))

    assert response.status_code == HTTPStatus.OK
    models = {m["object_name"] for app in response.context["app_list"] for m in app["models"]}
    assert models >= {
        "Account",
        "AdjustmentRequest",
        "Debt",
        "ExchangeRate",
        "Lot",
        "Order",
        "Posting",
        "ProgramSettings",
        "Refund",
    }


def test_a_debits_page_shows_the_lots_it_took_points_from(admin_client, ledger):
    spend = Posting.objects.get(idempotency_key="spend-1")
    credit = ledger["credit"]

    response = admin_client.get(reverse("admin:loyalty_posting_change", args=[spend.pk]))

    lot_link = reverse("admin:loyalty_posting_change", args=[credit.pk])
    assert f'50 from <a href="{lot_link}">posting #{credit.pk}</a>'.encode() in response.content
