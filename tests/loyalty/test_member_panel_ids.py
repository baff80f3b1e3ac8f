"""Ids in the member page's panels are written as ids: `1604`, never grouped like an amount
(`1,604`), although numbers elsewhere get thousands separators (USE_THOUSAND_SEPARATOR)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.template.loader import render_to_string
from django.utils import translation

from loyalty.models import AdjustmentRequest, Posting
from tests.loyalty.conftest import T0


def test_posting_and_request_ids_have_no_thousands_separator():
    when = dt.datetime(2026, 12, 4, 12, 0, tzinfo=dt.UTC)
    posting = Posting(pk=1604, kind="earn", points=1250, effective_at=when, available_at=when)
    request = AdjustmentRequest(pk=12345, points=1500, status="pending", requested_at=when)

    with translation.override("en"):
        postings = render_to_string(
            "admin/loyalty/member/postings.html",
            {"panel": {"context": {"postings": [posting], "list_url": "/"}}},
        )
        requests = render_to_string(
            "admin/loyalty/member/requests.html",
            {"panel": {"context": {"requests": [request], "list_url": "/"}}},
        )

    assert '/admin/loyalty/posting/1604/change/">1604</a>' in postings
    assert "1,604" not in postings
    assert '/admin/loyalty/adjustmentrequest/12345/change/">12345</a>' in requests


def _posting_ids_from(start: int) -> None:
    """The next posting gets id `start` (SQLite's or PostgreSQL's sequence moved on)."""
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT setval(pg_get_serial_sequence('loyalty_posting', 'id'), %s, false)",
                [start],
            )
        else:  # AUTOINCREMENT tables keep their counter in sqlite_sequence (a row per table)
            cursor.execute(
                "UPDATE sqlite_sequence SET seq = %s WHERE name = 'loyalty_posting'", [start - 1]
            )
            if cursor.rowcount == 0:
                cursor.execute(
                    "INSERT INTO sqlite_sequence (name, seq) VALUES ('loyalty_posting', %s)",
                    [start - 1],
                )


@pytest.mark.django_db
def test_the_postings_list_writes_ids_as_ids(admin_client, member, record_order):
    _posting_ids_from(1604)
    record_order(member, "O-1", "10.00", placed_at=T0)

    page = admin_client.get("/admin/loyalty/posting/").content.decode()

    assert '<th class="field-number"><a href="/admin/loyalty/posting/1604/change/">1604</a>' in page
    assert "1,604" not in page
