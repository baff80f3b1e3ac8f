"""Import fixtures: files written to a temporary folder, imports run through the pipeline.

The ledger audit of `tests/loyalty/conftest.py` (autouse) runs after every test here too.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import transaction
from django.utils import timezone

from loyalty.importing.pipeline import import_orders
from loyalty.models import Debt
from loyalty.services.jobs import daily_jobs_run
from loyalty.services.points import points_spend
from members.actors import Actor

ORDERS_HEADER = "order_id,customer_id,email,placed_at,total,currency"


def days_ago(days: float) -> str:
    """A placed_at `days` ago, in UTC ISO form (what a storefront export writes)."""
    moment = timezone.now() - dt.timedelta(days=days)
    return moment.replace(microsecond=0).astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")


@pytest.fixture
def csv_file(tmp_path):
    """`csv_file("a,b\\n1,2\\n")` or `csv_file(b"...")` -> the path of a new file."""
    counter = iter(range(1, 10_000))

    def _write(content, name=None):
        path = tmp_path / (name or f"orders-{next(counter)}.csv")
        if isinstance(content, str):
            content = content.encode("utf-8")
        path.write_bytes(content)
        return path

    return _write


@pytest.fixture
def run_import(db):
    """Run the import as the pipeline does for the command; returns the `ImportResult`."""

    def _run(path, **options):
        options.setdefault("actor", Actor.system("tests"))
        return import_orders(path=path, **options)

    return _run


@pytest.fixture
def member_in_debt(make_member, record_order, record_refund, system_actor):
    """`member_in_debt("C-1")`: a member who spent 100 points of an order then refunded, so
    that they owe 100 points (a `Debt`) that newly available points pay off first."""

    def _make(external_id: str):
        member = make_member(external_id=external_id)
        forty_days_ago = timezone.now() - dt.timedelta(days=40)
        record_order(member, "LIVE-1", "100.00", placed_at=forty_days_ago, now=forty_days_ago)
        daily_jobs_run()
        with transaction.atomic():
            points_spend(member=member, points=100, actor=system_actor, idempotency_key="spend-1")
        record_refund("LIVE-1", "LIVE-1-R", "100.00")
        assert Debt.objects.get().remaining == 100
        return member

    return _make
