"""Contract tests: the storefront API walked against /work/shared/spec/api.md, literally.

Every scenario ends with a clean ledger audit (the loyalty fixtures), and data is built through
the services, as the storefront's history would have built it.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
from decimal import Decimal
from http import HTTPStatus

import pytest
from django.utils import timezone

from loyalty.demo import demo_tiers_ensure
from loyalty.services.points import points_adjust_post
from rewards.services import reward_create
from tests.loyalty.conftest import _ledger_audited, record_order, record_refund  # noqa: F401

PROBLEM = "application/problem+json"
# ISO 8601 with a zone: `Z` or `±hh:mm` (an optional fraction of a second before it).
ISO_INSTANT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
MONEY = re.compile(r"^\d+\.\d{2}$")

_keys = itertools.count(1)


def assert_problem(response, status: HTTPStatus, code: str, *, field: str | None = None) -> dict:
    """The response is an RFC 9457 problem with the spec's shape, status and `code`."""
    assert response.status_code == status, response.content
    assert response["Content-Type"] == PROBLEM
    body = response.json()
    assert {"type", "title", "status", "detail", "code", "errors"} <= set(body)
    assert body["status"] == int(status)
    assert body["code"] == code
    assert isinstance(body["type"], str)
    assert body["type"]
    assert isinstance(body["title"], str)
    assert body["title"]
    assert isinstance(body["detail"], str)
    assert body["detail"]
    assert isinstance(body["errors"], list)
    for error in body["errors"]:
        assert set(error) == {"field", "message"}
        assert error["field"] is None or isinstance(error["field"], str)
        assert isinstance(error["message"], str)
    if field is not None:
        assert field in [e["field"] for e in body["errors"]], body
    return body


def assert_instant(value) -> None:
    assert isinstance(value, str), value
    assert ISO_INSTANT.match(value), value
    assert dt.datetime.fromisoformat(value.replace("Z", "+00:00")).tzinfo is not None


def assert_date(value) -> None:
    assert isinstance(value, str), value
    assert ISO_DATE.match(value), value
    dt.date.fromisoformat(value)


def assert_money(value) -> None:
    assert isinstance(value, str), value
    assert MONEY.match(value), value


def assert_int(value) -> None:
    assert isinstance(value, int), value
    assert not isinstance(value, bool), value


def post_idem(client, url: str, body: dict | None = None, *, key: str | None = None):
    """POST with an `Idempotency-Key` (a fresh one unless given)."""
    return client.post(
        url, body or {}, format="json", HTTP_IDEMPOTENCY_KEY=key or f"contract-{next(_keys)}"
    )


@pytest.fixture
def ladder(db, system_actor):
    """The demo ladder: Member 0 ×1, Silver 250 ×1.25, Gold 500 ×1.5, Platinum 1000 ×2."""
    return {tier.code: tier for tier in demo_tiers_ensure(actor=system_actor)}


@pytest.fixture
def give_points(system_actor):
    """`give_points(member, 1000)`: an adjustment credit, available at once."""

    def _give(member, points, *, now=None):
        return points_adjust_post(
            member=member,
            points=points,
            reason="contract test credit",
            actor=system_actor,
            idempotency_key=f"contract-credit:{next(_keys)}",
            now=now or timezone.now() - dt.timedelta(seconds=1),
        )

    return _give


@pytest.fixture
def make_reward(db, system_actor):
    """`make_reward(code="FIVE_OFF", stock=3)` through the service; £5 off for 500 by default."""

    def _make(code, **fields):
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
        return reward_create(code=code, actor=system_actor, **fields)

    return _make
