"""Ids in the member page's panels are written as ids: `1604`, never grouped like an amount
(`1,604`), although numbers elsewhere get thousands separators (USE_THOUSAND_SEPARATOR)."""

from __future__ import annotations

import datetime as dt

from django.template.loader import render_to_string
from django.utils import translation

from loyalty.models import AdjustmentRequest, Posting


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
