"""Loyalty fixtures. Every test that touches the database ends with a clean `audit_ledger`."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from loyalty.selectors.audit import ledger_audit
from loyalty.services.orders import order_record, refund_record

T0 = dt.datetime(2026, 1, 5, 10, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _ledger_audited(request):
    """After each scenario, recompute the ledger from its postings: any mismatch fails the test."""
    uses_db = {"db", "transactional_db", "django_db_setup"} & set(request.fixturenames) or (
        request.node.get_closest_marker("django_db")
    )
    if not uses_db:
        yield
        return
    marker = request.node.get_closest_marker("django_db")
    transactional = bool(marker and marker.kwargs.get("transaction")) or (
        "transactional_db" in request.fixturenames
    )
    request.getfixturevalue("transactional_db" if transactional else "db")
    yield
    report = ledger_audit()
    assert report.mismatches == [], "audit_ledger found mismatches"


@pytest.fixture
def record_order(system_actor):
    """`record_order(member, "O-1", "100.00", placed_at=T0)` through the real service."""
    counter = iter(range(1, 1_000_000))

    def _record(member, order_id=None, total="100.00", *, placed_at=T0, now=None, **kwargs):
        return order_record(
            order_id=order_id or f"O-{next(counter)}",
            member=member,
            placed_at=placed_at,
            currency=kwargs.pop("currency", "GBP"),
            total=Decimal(total),
            actor=kwargs.pop("actor", system_actor),
            now=now or placed_at,
            **kwargs,
        )

    return _record


@pytest.fixture
def record_refund(system_actor):
    def _refund(order_id, refund_id, amount, *, now=None, **kwargs):
        return refund_record(
            order_id=order_id,
            refund_id=refund_id,
            amount=Decimal(amount),
            actor=kwargs.pop("actor", system_actor),
            now=now,
            **kwargs,
        )

    return _refund
