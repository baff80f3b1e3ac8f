"""Messaging fixtures: members with points expiring on a known day, built through the services."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import transaction

from loyalty.services.ledger import account_open
from loyalty.services.points import points_award
from tests.loyalty.conftest import record_order  # noqa: F401  (a fixture, shared)
from tests.memberships.conftest import make_plan, plan, shipping  # noqa: F401  (fixtures)

# Awarded at noon on 1 March 2026 (London = UTC then); 365-day lifetime: expire 1 March 2027.
AWARDED_AT = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
EXPIRY = dt.date(2027, 3, 1)
DAY_30 = EXPIRY - dt.timedelta(days=30)  # 30 Jan 2027
DAY_7 = EXPIRY - dt.timedelta(days=7)


@pytest.fixture(autouse=True)
def _jobs_inline(settings):
    """The send jobs run in-process after commit on both engines (what these tests check is
    what the job does; the queue itself is tested in tests/jobs)."""
    settings.JOBS_RUN_INLINE = True


@pytest.fixture
def award(system_actor):
    counter = iter(range(1, 1_000_000))

    def _award(member, points, *, now=AWARDED_AT):
        with transaction.atomic():
            account_open(member_id=member.pk)
            return points_award(
                member=member,
                points=points,
                campaign_code="TEST",
                idempotency_key=f"test-award-{next(counter)}",
                actor=system_actor,
                now=now,
            )

    return _award


@pytest.fixture
def daily(django_capture_on_commit_callbacks):
    """Run the daily messages step as of a day, and the send jobs it deferred (inline on
    SQLite, after commit: captured here since a test's transaction never commits)."""
    from messaging.daily import messages_daily

    def _run(as_of):
        with django_capture_on_commit_callbacks(execute=True):
            return messages_daily(as_of=as_of)

    return _run
