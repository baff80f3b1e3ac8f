"""Recompute everything the ledger caches from the postings and report each mismatch.

What is checked (set-based, one grouped query per check):
- per member: Σ postings = available + pending; pending = Σ remaining of unmatured lots;
  available = Σ remaining of matured lots − Σ open debt; lifetime earned = Σ earning credits;
- per lot: it mirrors its credit posting; points − remaining = Σ allocations from it;
- per debit: Σ allocations to it + its open debt = −points; every credit has a lot;
- per order: its earn / tier bonus / campaign postings equal the order's points; its refund
  reversals equal the points reversed less any recorded shortfall; refunds add up.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Q, Sum

from loyalty.models import Account, Debt, Lot, LotAllocation, Order, Posting, Refund
from loyalty.models.ledger import PostingKind
from loyalty.selectors.program import program_settings
from loyalty.services.ledger import EARNING_KINDS


@dataclass
class AuditReport:
    mismatches: list[str] = field(default_factory=list)
    members: int = 0
    postings: int = 0
    outstanding_points: int = 0
    liability: Decimal = Decimal("0.00")
    currency: str = ""

    @property
    def ok(self) -> bool:
        return not self.mismatches


def _sum_by(qs, key: str, value: str = "points") -> dict:
    return {row[key]: row["s"] or 0 for row in qs.values(key).annotate(s=Sum(value)).order_by()}


def ledger_audit() -> AuditReport:
    report = AuditReport()
    out = report.mismatches

    posted = _sum_by(Posting.objects.all(), "member_id")
    earned = _sum_by(Posting.objects.filter(kind__in=EARNING_KINDS, points__gt=0), "member_id")
    pending = _sum_by(Lot.objects.filter(matured=False), "member_id", "remaining")
    matured = _sum_by(Lot.objects.filter(matured=True), "member_id", "remaining")
    debt = _sum_by(Debt.objects.all(), "member_id", "remaining")
    accounts = {a.member_id: a for a in Account.objects.all()}
    for member_id in sorted(set(posted) | set(accounts)):
        acc = accounts.get(member_id)
        available, pend, life = (
            (acc.available, acc.pending, acc.lifetime_earned) if acc else (0, 0, 0)
        )
        if posted.get(member_id, 0) != available + pend:
            out.append(
                f"member {member_id}: postings sum to {posted.get(member_id, 0)}, "
                f"balance is {available} available + {pend} pending"
            )
        if pending.get(member_id, 0) != pend:
            out.append(
                f"member {member_id}: pending {pend}, pending lots hold {pending.get(member_id, 0)}"
            )
        expected_available = matured.get(member_id, 0) - debt.get(member_id, 0)
        if expected_available != available:
            out.append(
                f"member {member_id}: available {available}, lots less debt give "
                f"{expected_available}"
            )
        if earned.get(member_id, 0) != life:
            out.append(
                f"member {member_id}: lifetime earned {life}, credits sum to "
                f"{earned.get(member_id, 0)}"
            )
    report.members = len(accounts)
    report.postings = Posting.objects.count()

    # Lots mirror their postings; what left a lot is what was allocated from it.
    from_lots = _sum_by(LotAllocation.objects.all(), "lot_id")
    for lot_id, points, remaining, p_points, p_avail, l_avail in Lot.objects.values_list(
        "pk", "points", "remaining", "posting__points", "posting__available_at", "available_at"
    ).iterator(chunk_size=5000):
        if points != p_points or p_avail != l_avail:
            out.append(f"lot {lot_id}: does not mirror its posting")
        if points - remaining != from_lots.get(lot_id, 0):
            out.append(
                f"lot {lot_id}: {points - remaining} used, allocations say "
                f"{from_lots.get(lot_id, 0)}"
            )
    lotless = Posting.objects.filter(points__gt=0, lot__isnull=True).values_list("pk", flat=True)
    out.extend(f"posting {pk}: a credit without a lot" for pk in lotless[:100])

    to_debits = _sum_by(LotAllocation.objects.all(), "posting_id")
    open_debt = dict(Debt.objects.values_list("posting_id", "remaining"))
    for pk, points in (
        Posting.objects.filter(points__lt=0).values_list("pk", "points").iterator(chunk_size=5000)
    ):
        covered = to_debits.get(pk, 0) + open_debt.get(pk, 0)
        if covered != -points:
            out.append(f"posting {pk}: debit of {-points}, lots and debt cover {covered}")
    bad_alloc = LotAllocation.objects.filter(posting__points__gt=0).values_list("pk", flat=True)
    out.extend(f"allocation {pk}: to a credit" for pk in bad_alloc[:100])

    _audit_orders(out)

    settings = program_settings()
    report.outstanding_points = sum(a.available + a.pending for a in accounts.values())
    report.liability = (Decimal(report.outstanding_points) * settings.point_value).quantize(
        Decimal("0.01")
    )
    report.currency = settings.currency
    return report


def _audit_orders(out: list[str]) -> None:
    by_kind: dict[tuple[int, str], int] = defaultdict(int)
    rows = (
        Posting.objects.filter(order__isnull=False)
        .filter(
            Q(kind__in=[PostingKind.EARN, PostingKind.TIER_BONUS, PostingKind.CAMPAIGN_BONUS])
            | Q(kind=PostingKind.REFUND_REVERSAL)
        )
        .values("order_id", "kind")
        .annotate(s=Sum("points"))
        .order_by()
    )
    for row in rows:
        by_kind[(row["order_id"], row["kind"])] = row["s"]
    shortfall = _sum_by(Refund.objects.all(), "order_id", "shortfall")
    refunded = _sum_by(Refund.objects.all(), "order_id", "amount")
    for order in Order.objects.values(
        "pk",
        "order_id",
        "points_base",
        "points_tier_bonus",
        "points_campaign",
        "points_reversed",
        "refunded_total",
    ).iterator(chunk_size=5000):
        pk = order["pk"]
        checks = (
            ("earn", PostingKind.EARN, order["points_base"]),
            ("tier bonus", PostingKind.TIER_BONUS, order["points_tier_bonus"]),
            ("campaign bonus", PostingKind.CAMPAIGN_BONUS, order["points_campaign"]),
            (
                "refund reversal",
                PostingKind.REFUND_REVERSAL,
                -(order["points_reversed"] - shortfall.get(pk, 0)),
            ),
        )
        for label, kind, expected in checks:
            if by_kind.get((pk, kind), 0) != expected:
                out.append(
                    f"order {order['order_id']}: {label} postings sum to "
                    f"{by_kind.get((pk, kind), 0)}, the order says {expected}"
                )
        if refunded.get(pk, Decimal("0")) != order["refunded_total"]:
            out.append(
                f"order {order['order_id']}: refunds add up to {refunded.get(pk, 0)}, "
                f"the order says {order['refunded_total']}"
            )
