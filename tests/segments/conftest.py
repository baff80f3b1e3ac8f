"""Segments fixtures: the ledger is audited after each test (loyalty's fixture), orders go
through the real services (`record_order`, `record_refund`)."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from django.utils import timezone

from loyalty.services.points import points_adjust_post
from tests.loyalty.conftest import (  # noqa: F401  (shared fixtures)
    _ledger_audited,
    record_order,
    record_refund,
)

_keys = itertools.count(1)


@pytest.fixture
def give_points_(system_actor):
    """`give_points_(member, 500)`: an adjustment credit, available at once."""

    def _give(member, points):
        return points_adjust_post(
            member=member,
            points=points,
            reason="test credit",
            actor=system_actor,
            idempotency_key=f"seg-credit:{next(_keys)}",
            now=timezone.now() - dt.timedelta(seconds=1),
        )

    return _give
