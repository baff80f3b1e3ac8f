"""Plans and memberships for the memberships tests, built through the services."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from loyalty.models import Perk
from loyalty.services.tier_config import perk_save
from memberships.models import Plan
from memberships.services import plan_save

# A fixed clock: the services take `now`, so every date below is exact.
T0 = dt.datetime(2026, 1, 1, 10, 0, tzinfo=dt.UTC)


def days(n: float) -> dt.timedelta:
    return dt.timedelta(days=n)


@pytest.fixture
def shipping(db, system_actor) -> Perk:
    return perk_save(
        actor=system_actor, code="free_shipping", name="Free shipping", kind="free_shipping"
    )


@pytest.fixture
def make_plan(db, system_actor, shipping):
    def _make(**kwargs) -> Plan:
        kwargs.setdefault("code", "plus")
        kwargs.setdefault("name", "Plus")
        kwargs.setdefault("price", Decimal("12.00"))
        kwargs.setdefault("currency", "GBP")
        kwargs.setdefault("period_months", 1)
        kwargs.setdefault("trial_days", 14)
        kwargs.setdefault("grace_days", 7)
        kwargs.setdefault("perks", [shipping])
        return plan_save(actor=system_actor, **kwargs)

    return _make


@pytest.fixture
def plan(make_plan) -> Plan:
    return make_plan()
