"""The member's page (loyalty side) and its "Adjust points" form, by role."""

from __future__ import annotations

import datetime as dt
from http import HTTPStatus

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from loyalty.admin.members import LoyaltyMemberAdmin
from loyalty.models import AdjustmentRequest, Posting
from loyalty.services.adjustments import adjustment_request
from loyalty.services.points import points_adjust_post
from loyalty.services.program import program_settings_update
from members.actors import Actor
from members.admin import MemberPanel
from members.roles import CUSTOMER_SERVICE, MARKETING, SUPERVISOR
from members.services import member_erase
from tests.loyalty.staff import client_for, staff_user


def _messages(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def _page(client, member):
    return client.get(reverse("admin:members_member_change", args=[member.pk]))


def _panels(response) -> dict[str, dict]:
    return {panel.title: panel.context for panel in response.context["member_panels"]}


def _adjust_url(member) -> str:
    return reverse("admin:members_member_adjust_points", args=[member.pk])


def _adjust_form(client, member) -> dict:
    """What the browser sends: the form's one-time token, as rendered."""
    form = client.get(_adjust_url(member)).context["form"]
    return {"token": str(form["token"].value())}


def _history(member, record_order, system_actor, *, orders: int, adjustments: int) -> None:
    now = timezone.now()
    for i in range(orders):
        record_order(
            member, f"{member.external_id}-O{i}", "20.00", placed_at=now - dt.timedelta(hours=i)
        )
    for i in range(adjustments):
        points_adjust_post(
            member=member,
            points=5,
            reason=f"adjustment {i}",
            actor=system_actor,
            idempotency_key=f"{member.external_id}-a{i}",
        )


# --- the page -----------------------------------------------------------------------------------


def test_the_member_page_shows_points_postings_and_orders(
    admin_client, member, record_order, system_actor
):
    program_settings_update(actor=system_actor, points_lifetime_days=30)
    _history(member, record_order, system_actor, orders=1, adjustments=2)

    response = _page(admin_client, member)

    assert response.status_code == HTTPStatus.OK
    panels = _panels(response)
    # (other blocks, tiers' and rewards', come in between; the audit trail comes last)
    ours = ["Points", "Recent postings", "Recent orders"]
    assert [title for title in panels if title in ours] == ours
    assert list(panels)[-1] == "Audit trail"
    assert "Open adjustment requests" not in panels  # none open
    points = panels["Points"]
    assert (points["available"], points["pending"], points["lifetime_earned"]) == (10, 20, 30)
    assert points["expiring_total"] == 10  # the adjustments expire in 30 days
    assert [p.reason for p in panels["Recent postings"]["postings"]] == [
        "adjustment 1",
        "adjustment 0",
        "",
    ]
    assert panels["Recent postings"]["list_url"] == (
        f"{reverse('admin:loyalty_posting_changelist')}?member__id__exact={member.pk}"
    )
    assert [o.order_id for o in panels["Recent orders"]["orders"]] == ["C-1001-O0"]
    assert b"Lifetime earned" in response.content


def test_the_page_shows_the_latest_20_postings_and_10_orders_with_links_to_the_rest(
    admin_client, member, record_order, system_actor
):
    _history(member, record_order, system_actor, orders=11, adjustments=10)

    panels = _panels(_page(admin_client, member))

    assert len(panels["Recent postings"]["postings"]) == 20
    assert panels["Recent postings"]["has_more"] is True
    assert len(panels["Recent orders"]["orders"]) == 10
    assert panels["Recent orders"]["has_more"] is True
    listing = admin_client.get(panels["Recent postings"]["list_url"])
    assert len(listing.context["cl"].result_list) == 21


def test_the_page_costs_the_same_bounded_queries_whatever_the_history(
    admin_client, make_member, record_order, system_actor, django_assert_max_num_queries
):
    quiet, busy = make_member(), make_member()
    _history(quiet, record_order, system_actor, orders=1, adjustments=1)
    _history(busy, record_order, system_actor, orders=15, adjustments=40)
    adjustment_request(
        member=busy,
        points=5000,
        reason="big",
        actor=Actor.staff(staff_user(CUSTOMER_SERVICE, "agent")),
    )
    _page(admin_client, quiet)  # warm caches (content types, permissions)

    with CaptureQueriesContext(connection) as quiet_queries:
        _page(admin_client, quiet)
    with django_assert_max_num_queries(20):
        busy_page = _page(admin_client, busy)

    assert "Open adjustment requests" in _panels(busy_page)
    # 40 postings, 15 orders and an open request cost no more queries than one of each
    with CaptureQueriesContext(connection) as busy_queries:
        _page(admin_client, busy)
    assert len(busy_queries) == len(quiet_queries)


def test_a_block_is_added_to_the_page_with_one_line(admin_client, member, monkeypatch):
    def test_section(request, member):
        return MemberPanel(
            title="Test block",
            template="admin/loyalty/member/balance.html",
            context={"available": 1},
        )

    monkeypatch.setattr(
        LoyaltyMemberAdmin, "loyalty_sections", list(LoyaltyMemberAdmin.loyalty_sections)
    )
    LoyaltyMemberAdmin.loyalty_sections.insert(1, test_section)

    response = _page(admin_client, member)

    titles = list(_panels(response))
    assert titles[titles.index("Points") + 1] == "Test block"


@pytest.mark.parametrize(
    ("role", "has_tool"), [(CUSTOMER_SERVICE, True), (SUPERVISOR, True), (MARKETING, False)]
)
def test_the_adjust_points_button_is_there_for_those_who_may_adjust(member, role, has_tool):
    response = _page(client_for(staff_user(role, "staff")), member)

    assert response.status_code == HTTPStatus.OK
    labels = [tool.label for tool in response.context["member_tools"]]
    assert ("Adjust points" in labels) is has_tool


# --- adjusting ----------------------------------------------------------------------------------


def test_customer_service_adjusts_within_the_limit(member):
    agent = staff_user(CUSTOMER_SERVICE, "agent")
    client = client_for(agent)

    page = client.get(_adjust_url(member))
    response = client.post(
        _adjust_url(member), {**_adjust_form(client, member), "points": 250, "reason": "late"}
    )

    assert page.status_code == HTTPStatus.OK
    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"] == reverse("admin:members_member_change", args=[member.pk])
    posting = Posting.objects.get(member=member)
    assert (posting.points, posting.reason, posting.actor_user_id) == (250, "late", agent.pk)
    assert _messages(response) == [f"Posted +250 points to C-1001 (posting #{posting.pk})."]


def test_customer_service_over_the_limit_creates_a_request(member):
    client = client_for(staff_user(CUSTOMER_SERVICE, "agent"))

    response = client.post(
        _adjust_url(member), {**_adjust_form(client, member), "points": 1500, "reason": "vip"}
    )

    assert response.status_code == HTTPStatus.FOUND
    assert Posting.objects.count() == 0
    request = AdjustmentRequest.objects.get()
    assert (request.points, request.status) == (1500, "pending")
    assert _messages(response) == [
        "Not posted yet: +1500 points is over the per-adjustment limit of 1000 points "
        f"(1500 asked). Adjustment request #{request.pk} was created and waits for a "
        "Supervisor's approval."
    ]


def test_customer_service_over_the_daily_limit_creates_a_request(member):
    client = client_for(staff_user(CUSTOMER_SERVICE, "agent"))
    for points in (700, 300):
        client.post(
            _adjust_url(member),
            {**_adjust_form(client, member), "points": points, "reason": "r"},
        )

    response = client.post(
        _adjust_url(member), {**_adjust_form(client, member), "points": 1, "reason": "r"}
    )

    assert Posting.objects.count() == 2
    request = AdjustmentRequest.objects.get()
    assert _messages(response)[-1].startswith(
        "Not posted yet: +1 points is over the daily limit of 1000 points "
        "(1000 already adjusted today, 1 asked)."
    )
    assert request.points == 1


def test_a_supervisor_adjusts_without_limits(member):
    client = client_for(staff_user(SUPERVISOR, "super"))

    response = client.post(
        _adjust_url(member), {**_adjust_form(client, member), "points": 25_000, "reason": "x"}
    )

    assert response.status_code == HTTPStatus.FOUND
    assert Posting.objects.get().points == 25_000


def test_submitting_the_same_form_twice_adjusts_once(member):
    client = client_for(staff_user(CUSTOMER_SERVICE, "agent"))
    data = {**_adjust_form(client, member), "points": 40, "reason": "double click"}

    client.post(_adjust_url(member), data)
    client.post(_adjust_url(member), data)

    assert Posting.objects.filter(member=member).count() == 1


@pytest.mark.parametrize(
    ("data", "errors"),
    [
        ({"points": 0, "reason": "x"}, {"points": ["Enter a number of points other than zero."]}),
        ({"points": 10, "reason": ""}, {"reason": ["This field is required."]}),
        ({"points": "", "reason": "x"}, {"points": ["This field is required."]}),
    ],
)
def test_points_and_reason_are_both_required(member, data, errors):
    client = client_for(staff_user(CUSTOMER_SERVICE, "agent"))

    response = client.post(_adjust_url(member), {**_adjust_form(client, member), **data})

    assert response.status_code == HTTPStatus.OK
    assert response.context["form"].errors == errors
    assert Posting.objects.count() == 0


def test_a_debit_beyond_the_balance_is_shown_as_an_error_on_the_form(member, system_actor):
    points_adjust_post(
        member=member, points=10, reason="seed", actor=system_actor, idempotency_key="seed"
    )
    client = client_for(staff_user(CUSTOMER_SERVICE, "agent"))

    response = client.post(
        _adjust_url(member), {**_adjust_form(client, member), "points": -11, "reason": "x"}
    )

    assert response.status_code == HTTPStatus.OK
    assert _messages(response) == [
        "Not enough points: 11 needed, 10 available. (insufficient_points)"
    ]
    assert Posting.objects.count() == 1


def test_marketing_cannot_adjust(member):
    client = client_for(staff_user(MARKETING, "marketing"))

    get = client.get(_adjust_url(member))
    post = client.post(_adjust_url(member), {"token": "x", "points": 5, "reason": "x"})

    assert get.status_code == HTTPStatus.FORBIDDEN
    assert post.status_code == HTTPStatus.FORBIDDEN
    assert Posting.objects.count() == 0


def test_an_erased_members_points_are_not_adjusted(member, system_actor):
    member = member_erase(member=member, actor=system_actor)
    client = client_for(staff_user(SUPERVISOR, "super"))

    response = client.get(_adjust_url(member))

    assert response.status_code == HTTPStatus.FOUND
    assert _messages(response) == ["This member's data has been erased."]


# --- the list: tier and points columns ----------------------------------------------------------


def test_the_member_list_shows_tier_and_points_without_a_query_per_row(
    make_member, system_actor, django_assert_max_num_queries
):
    from loyalty.demo import demo_tiers_ensure
    from loyalty.services.tiers import tier_override

    ladder = {t.code: t for t in demo_tiers_ensure()}
    rich = make_member(external_id="C-1", first_name="Ada", last_name="Lovelace")
    points_adjust_post(
        member=rich, points=12345, reason="x", actor=system_actor, idempotency_key="a1"
    )
    tier_override(
        member=rich,
        tier=ladder["gold"],
        until=timezone.localdate() + dt.timedelta(days=30),
        reason="x",
        actor=system_actor,
    )
    for n in range(2, 12):
        make_member(external_id=f"C-{n}")
    client = client_for(staff_user(CUSTOMER_SERVICE, "agent"))
    url = reverse("admin:members_member_changelist")
    client.get(url)  # the session and permission caches

    with django_assert_max_num_queries(8):
        response = client.get(url)

    rows = {m.external_id: m for m in response.context["cl"].result_list}
    admin_ = response.context["cl"].model_admin
    assert (admin_.tier_column(rows["C-1"]), admin_.balance_column(rows["C-1"])) == (
        "Gold",
        "12,345",
    )
    assert (admin_.tier_column(rows["C-2"]), admin_.balance_column(rows["C-2"])) == (
        "Member",
        "0",
    )
