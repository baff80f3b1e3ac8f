"""The bulk writer leaves exactly what the live path would: posting by posting, lot by lot.

The same history goes in twice, under two prefixes so both live in one database:
- `I-...` through the import (set-based, COPY on PostgreSQL);
- `R-...` through the ledger's services, event by event at the event's own time
  (`order_record(now=placed_at)`, `refund_record(now=refunded_at)`), then `daily_jobs_run()` today.
Then every posting, lot, allocation, order, refund and balance of both is compared with the prefix
taken out. The history has orders still pending, available ones, expired ones, partial and full
refunds, an eligible total and a tier bonus (a one-tier ladder at ×1.5, so that nobody can move up
mid-way and both paths earn at the same multiplier).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from loyalty.models import Account, Lot, LotAllocation, Order, Posting, Refund
from loyalty.services.jobs import daily_jobs_run
from loyalty.services.orders import order_record, refund_record
from loyalty.services.tier_config import tier_save
from members.actors import Actor
from members.services import member_enrol

# (order, customer, days ago, total, eligible total, refunded total)
HISTORY = [
    ("1", "A", 3, "120.00", "", ""),  # pending
    ("2", "A", 40, "80.50", "", "30.25"),  # available, partly refunded
    ("3", "A", 500, "200.00", "150.00", ""),  # expired
    ("4", "B", 420, "99.99", "", "99.99"),  # expired, fully refunded
    ("5", "B", 375, "10.00", "", "3.33"),  # expired after a partial refund
    ("6", "C", 100, "0.50", "", ""),  # earns nothing (floor)
    ("7", "C", 9, "45.00", "40.00", "13.00"),  # pending, partly refunded
    ("8", "D", 700, "1000.00", "", "1.00"),
    ("9", "D", 200, "333.33", "", ""),
    ("10", "D", 1, "17.17", "", "17.17"),
]


def _at(days: int) -> dt.datetime:
    base = timezone.now().replace(microsecond=0) - dt.timedelta(days=days)
    return base.replace(hour=10, minute=30, second=0).astimezone(dt.UTC)


def _write_file(path, prefix: str) -> None:
    lines = ["order_id,customer_id,email,placed_at,total,currency,eligible_total,refunded_total"]
    for oid, customer, days, total, eligible, refunded in HISTORY:
        lines.append(
            f"{prefix}{oid},{prefix}{customer},{prefix.lower()}{customer.lower()}@example.com,"
            f"{_at(days).isoformat()},{total},GBP,{eligible},{refunded}"
        )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _live(prefix: str, actor: Actor) -> None:
    members = {}
    for oid, customer, days, total, eligible, refunded in sorted(HISTORY, key=lambda h: -h[2]):
        placed_at = _at(days)
        if customer not in members:
            members[customer] = member_enrol(
                external_id=f"{prefix}{customer}",
                email=f"{prefix.lower()}{customer.lower()}@example.com",
                actor=actor,
                enrolled_at=placed_at,
            )
        order_record(
            order_id=f"{prefix}{oid}",
            member=members[customer],
            placed_at=placed_at,
            currency="GBP",
            total=Decimal(total),
            eligible_total=Decimal(eligible) if eligible else None,
            actor=actor,
            source=Order.Source.IMPORT,
            now=placed_at,
        )
        if refunded:
            cents = int(Decimal(refunded) * 100)
            refund_record(
                order_id=f"{prefix}{oid}",
                refund_id=f"{prefix}{oid}~R{cents}",
                amount=Decimal(refunded),
                actor=actor,
                refunded_at=placed_at,
                now=placed_at,
            )
    daily_jobs_run()


def _strip(value, prefix: str):
    return value.replace(prefix, "") if isinstance(value, str) else value


def _snapshot(prefix: str) -> dict:
    postings = Posting.objects.filter(member__external_id__startswith=prefix).select_related(
        "member", "order", "refund"
    )
    key = {}  # posting pk -> a name that does not depend on ids
    for p in postings:
        if p.kind != "expire":
            key[p.pk] = _strip(p.idempotency_key, prefix)
    for p in postings:
        if p.kind == "expire":
            key[p.pk] = f"expire:{key[int(p.source_id)]}"

    def posting_row(p):
        return (
            key[p.pk],
            _strip(p.member.external_id, prefix),
            p.kind,
            p.points,
            p.effective_at,
            p.available_at,
            p.expires_at,
            _strip(p.order.order_id, prefix) if p.order else None,
            _strip(p.refund.refund_id, prefix) if p.refund else None,
            p.source_type,
            key[int(p.source_id)] if p.kind == "expire" else _strip(p.source_id, prefix),
            p.reason,
            _strip(p.description, prefix) if p.kind != "expire" else p.description,
            p.campaign_code,
            p.reverses_id,
        )

    lots = Lot.objects.filter(member__external_id__startswith=prefix)
    allocations = LotAllocation.objects.filter(posting__member__external_id__startswith=prefix)
    orders = Order.objects.filter(member__external_id__startswith=prefix)
    refunds = Refund.objects.filter(order__member__external_id__startswith=prefix)
    accounts = Account.objects.filter(member__external_id__startswith=prefix).select_related(
        "member"
    )
    return {
        "postings": sorted(posting_row(p) for p in postings),
        "lots": sorted(
            (key[lot.posting_id], lot.points, lot.remaining, lot.matured, lot.expires_at)
            for lot in lots
        ),
        "allocations": sorted((key[a.posting_id], key[a.lot_id], a.points) for a in allocations),
        "orders": sorted(
            (
                _strip(o.order_id, prefix),
                o.placed_at,
                o.total,
                o.eligible_total,
                o.eligible_amount,
                o.refunded_total,
                o.refunded_amount,
                o.points_base,
                o.points_tier_bonus,
                o.points_campaign,
                o.points_reversed,
                o.tier_code,
                o.source,
            )
            for o in orders
        ),
        "refunds": sorted(
            (
                _strip(r.refund_id, prefix),
                r.amount,
                r.refunded_at,
                r.points_reversed,
                r.shortfall,
            )
            for r in refunds
        ),
        "accounts": sorted(
            (_strip(a.member.external_id, prefix), a.available, a.pending, a.lifetime_earned)
            for a in accounts
        ),
    }


@pytest.fixture
def one_tier(db, system_actor):
    tier_save(
        actor=system_actor,
        code="member",
        name="Member",
        rank=0,
        threshold=Decimal("0"),
        multiplier=Decimal("1.5"),
    )


def test_the_import_posts_exactly_what_the_live_path_would(tmp_path, run_import, one_tier):
    actor = Actor.system("tests")
    path = tmp_path / "history.csv"
    _write_file(path, "I-")

    result = run_import(path)
    _live("R-", actor)

    assert result.status == "succeeded"
    imported, live = _snapshot("I-"), _snapshot("R-")
    assert imported["postings"] == live["postings"]
    assert imported["lots"] == live["lots"]
    assert imported["allocations"] == live["allocations"]
    assert imported["orders"] == live["orders"]
    assert imported["refunds"] == live["refunds"]
    assert imported["accounts"] == live["accounts"]
    # And the history is what it says: some points pending, some available, some expired.
    kinds = {row[2] for row in imported["postings"]}
    assert kinds == {"earn", "tier_bonus", "refund_reversal", "expire"}
    assert {lot[3] for lot in imported["lots"]} == {True, False}


def test_a_fingerprint_matches_the_ledger_so_the_storefront_repeat_is_no_conflict(
    run_import, csv_file, system_actor
):
    placed = _at(30)
    path = csv_file(
        "order_id,customer_id,email,placed_at,total,currency,eligible_total\n"
        f"O-1,C-é,zoé@example.com,{placed.isoformat()},10.00,GBP,8.50\n"
    )
    run_import(path)
    member = Order.objects.get(order_id="O-1").member

    again = order_record(
        order_id="O-1",
        member=member,
        placed_at=placed,
        currency="GBP",
        total=Decimal("10.00"),
        eligible_total=Decimal("8.50"),
        actor=system_actor,
    )

    assert (again.created, again.base) == (False, 8)
