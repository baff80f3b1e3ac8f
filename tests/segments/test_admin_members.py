"""The member page's statistics panel and the member list's RFM column and filter."""

from __future__ import annotations

import datetime as dt
from http import HTTPStatus

import pytest
from django.urls import reverse

from members.roles import CUSTOMER_SERVICE, OPERATOR
from segments.services.stats import stats_refresh
from tests.loyalty.staff import client_for, staff_user

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)


def _rfm_world(make_member, record_order):
    low, high = make_member(), make_member()
    record_order(low, "O-1", "10.00", placed_at=NOW - dt.timedelta(days=90))
    for n in range(3):
        record_order(high, f"O-h{n}", "80.00", placed_at=NOW - dt.timedelta(days=n + 1))
    stats_refresh(now=NOW)
    return low, high


def test_member_page_shows_statistics_and_rfm_group(make_member, record_order):
    _low, high = _rfm_world(make_member, record_order)
    client = client_for(staff_user(CUSTOMER_SERVICE, "cs"))
    response = client.get(reverse("admin:members_member_change", args=[high.pk]))
    assert response.status_code == HTTPStatus.OK
    panels = {p.title: p.context for p in response.context["member_panels"]}
    view = panels["Statistics and RFM"]["view"]
    assert (view["rfm_label"], str(view["average_order"])) == ("Needs attention", "80.00")
    assert "R 3 · F 3 · M 3" in response.text


def test_operator_does_not_see_the_statistics(make_member, record_order):
    _low, high = _rfm_world(make_member, record_order)
    response = client_for(staff_user(OPERATOR, "op")).get(
        reverse("admin:members_member_change", args=[high.pk])
    )
    titles = [p.title for p in response.context["member_panels"]] if response.context else []
    assert "Statistics and RFM" not in titles


def test_member_list_has_the_rfm_column_and_filter(make_member, record_order):
    low, high = _rfm_world(make_member, record_order)
    nobody = make_member()
    client = client_for(staff_user(CUSTOMER_SERVICE, "cs"))
    url = reverse("admin:members_member_changelist")
    response = client.get(url, {"rfm": "needs_attention"})
    assert response.status_code == HTTPStatus.OK
    assert [m.pk for m in response.context["cl"].result_list] == [high.pk]
    assert "Needs attention" in response.text
    response = client.get(url, {"rfm": "lost"})
    assert [m.pk for m in response.context["cl"].result_list] == [low.pk]
    response = client.get(url, {"rfm": "none"})
    assert [m.pk for m in response.context["cl"].result_list] == [nobody.pk]
