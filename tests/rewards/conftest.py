"""Rewards fixtures. Every test that touches the database ends with a clean `audit_ledger`."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal

import pytest
from django.utils import timezone

from loyalty.selectors.audit import ledger_audit
from loyalty.services.points import points_adjust_post
from loyalty.services.tier_config import tier_save
from rewards.services import reward_create


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


_keys = itertools.count(1)


@pytest.fixture
def give_points(system_actor):
    """`give_points(member, 1000)`: an adjustment credit, available at once."""

    def _give(member, points, *, now=None):
        return points_adjust_post(
            member=member,
            points=points,
            reason="test credit",
            actor=system_actor,
            idempotency_key=f"test-credit:{next(_keys)}",
            now=now or timezone.now() - dt.timedelta(seconds=1),
        )

    return _give


@pytest.fixture
def make_reward(db, system_actor):
    """`make_reward(code="FIVE_OFF", stock=3)` through the service; £5 off for 500 by default."""

    def _make(code=None, **fields):
        fields.setdefault("name", "£5 off")
        fields.setdefault("kind", "fixed_discount")
        if fields["kind"] == "points_discount":
            fields.setdefault("points_cost", 0)
            fields.setdefault("value", None)
            fields.setdefault("min_points", 100)
            fields.setdefault("min_share", Decimal("0.00"))
            fields.setdefault("max_share", Decimal("0.50"))
        else:
            fields.setdefault("points_cost", 500)
            fields.setdefault("value", Decimal("5.00"))
        return reward_create(
            code=code or f"REWARD_{next(_keys)}", actor=fields.pop("actor", system_actor), **fields
        )

    return _make


@pytest.fixture
def tiers(db, system_actor):
    """A ladder: member (0), silver (1, £200), gold (2, £500). Returns {code: Tier}."""
    ladder = {}
    for code, rank, threshold, multiplier in (
        ("member", 0, "0.00", "1.00"),
        ("silver", 1, "200.00", "1.25"),
        ("gold", 2, "500.00", "1.50"),
    ):
        ladder[code] = tier_save(
            actor=system_actor,
            code=code,
            name=code.title(),
            rank=rank,
            threshold=Decimal(threshold),
            multiplier=Decimal(multiplier),
        )
    return ladder
