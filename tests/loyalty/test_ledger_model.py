"""A Hypothesis state machine drives the ledger against a simple, independent model of the rules.

The model (`MemberModel`) is plain Python: lots with points, what is left, when they become
available and when they expire; debts; FIFO by expiry. It knows nothing of the services. Each rule
performs one operation through the real services (earn, refund, adjust, spend, return a spend,
reverse a posting, the daily job, the clock, the settings) and the same operation on the model;
after every step the database must agree with the model exactly, and the invariants must hold:

- the balance equals the sum of the postings; the cached available / pending equal the model's;
- every lot's `remaining` (never below zero) and every debt's equal the model's, and what left a
  lot is what its allocations say;
- a spend never draws on a pending lot or on a lot whose expiry is at or before now;
- an order's refund reversals never exceed what it earned;
- the postings each operation made are exactly the ones the model expects;
- `ledger_audit()` is clean.

Each example runs in its own savepoint, rolled back at teardown, so examples never see each other.
`HYPOTHESIS_PROFILE=thorough` runs many more and longer examples.
"""

from __future__ import annotations

import copy
import datetime as dt
import os
from collections import Counter
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, Decimal
from zoneinfo import ZoneInfo

import pytest
from django.db import transaction
from django.db.models import Q, Sum
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from config.errors import ServiceError
from loyalty.models import Account, Debt, Lot, LotAllocation, Order, Posting, ProgramSettings
from loyalty.selectors.audit import ledger_audit
from loyalty.selectors.program import program_settings
from loyalty.services.jobs import daily_jobs_run
from loyalty.services.orders import order_record, refund_record
from loyalty.services.points import (
    points_adjust_post,
    points_return,
    points_spend,
    posting_reverse,
)
from members.actors import Actor
from members.services import member_enrol
from tests.conftest import ENROLLED_AT

PROGRAM_TZ = ZoneInfo("Europe/London")
START = dt.datetime(2026, 1, 5, 10, 0, tzinfo=dt.UTC)
PENDING_DAYS = 14
EARNING = {"earn", "tier_bonus", "campaign_bonus", "adjust"}
MEMBERS = 2

settings.register_profile(
    "ledger-default",
    max_examples=int(os.environ.get("LEDGER_MODEL_EXAMPLES", "15")),
    stateful_step_count=30,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    print_blob=True,
    report_multiple_bugs=False,
)
settings.register_profile(
    "ledger-thorough",
    parent=settings.get_profile("ledger-default"),
    max_examples=400,
    stateful_step_count=60,
)
if os.environ.get("LEDGER_MODEL_NOSHRINK"):  # while debugging: the first failure, unshrunk
    settings.register_profile(
        "ledger-debug",
        parent=settings.get_profile("ledger-default"),
        phases=[Phase.generate],
        max_examples=200,
    )
PROFILE = (
    "ledger-thorough" if os.environ.get("HYPOTHESIS_PROFILE") == "thorough" else "ledger-default"
)
if os.environ.get("LEDGER_MODEL_NOSHRINK"):
    PROFILE = "ledger-debug"


# --- The model -------------------------------------------------------------------------------


@dataclass
class MLot:
    points: int
    remaining: int
    available_at: dt.datetime
    expires_at: dt.datetime | None
    matured: bool


@dataclass
class MPosting:
    member: int
    kind: str
    points: int
    order: str | None = None
    reversed: bool = False


@dataclass
class MOrder:
    member: int
    points: int
    eligible: Decimal
    lots: list[int]
    refunded: Decimal = Decimal("0.00")
    reversed: int = 0  # the refunds' cumulative points to reverse (shortfalls included)
    refund_taken: int = 0  # what the refunds' reversals actually took
    staff_taken: int = 0  # Supervisors' reversals of its credits, less those of its reversals

    @property
    def held(self) -> int:
        return self.points - self.refund_taken - self.staff_taken


@dataclass
class MemberModel:
    """One member's points: lots keyed by their credit's posting id, debts by their debit's."""

    lots: dict[int, MLot] = field(default_factory=dict)
    debts: dict[int, int] = field(default_factory=dict)
    lifetime_earned: int = 0

    @property
    def pending(self) -> int:
        return sum(lot.remaining for lot in self.lots.values() if not lot.matured)

    @property
    def available(self) -> int:
        matured = sum(lot.remaining for lot in self.lots.values() if lot.matured)
        return matured - sum(self.debts.values())

    def spendable(self, now: dt.datetime) -> list[int]:
        """Matured, unexpired lots with points left: soonest expiry first (never last), oldest."""
        open_lots = [
            (pk, lot)
            for pk, lot in self.lots.items()
            if lot.matured
            and lot.remaining > 0
            and (lot.expires_at is None or lot.expires_at > now)
        ]
        open_lots.sort(
            key=lambda item: (
                item[1].expires_at is None,
                item[1].expires_at or now,
                item[1].available_at,
                item[0],
            )
        )
        return [pk for pk, _ in open_lots]

    def settle_debts(self, now: dt.datetime) -> None:
        for debt_pk in sorted(self.debts):
            for pk in self.spendable(now):
                if self.debts[debt_pk] == 0:
                    break
                take = min(self.debts[debt_pk], self.lots[pk].remaining)
                self.lots[pk].remaining -= take
                self.debts[debt_pk] -= take

    def credit(self, pk: int, kind: str, points: int, available_at, expires_at, now) -> None:
        matured = available_at <= now
        self.lots[pk] = MLot(points, points, available_at, expires_at, matured)
        if kind in EARNING:
            self.lifetime_earned += points
        if matured:
            self.settle_debts(now)

    def plan_debit(
        self, points: int, now: dt.datetime, first: list[int] = ()
    ) -> tuple[list[tuple[int, int]], int]:
        """Which lots a debit of `points` takes, and what no lot covers."""
        plan, left, seen = [], points, set()
        for pk in first:
            lot = self.lots[pk]
            if left == 0:
                break
            if lot.remaining <= 0 or (
                lot.matured and lot.expires_at is not None and lot.expires_at <= now
            ):
                continue
            take = min(lot.remaining, left)
            plan.append((pk, take))
            seen.add(pk)
            left -= take
        for pk in self.spendable(now):
            if left == 0:
                break
            if pk in seen:
                continue
            take = min(self.lots[pk].remaining, left)
            plan.append((pk, take))
            left -= take
        return plan, left

    def apply_debit(self, debit_pk: int, plan: list[tuple[int, int]], left: int) -> None:
        for pk, take in plan:
            self.lots[pk].remaining -= take
        if left:
            self.debts[debit_pk] = left

    def mature(self, cutoff: dt.datetime) -> None:
        due = [lot for lot in self.lots.values() if not lot.matured and lot.available_at <= cutoff]
        for lot in due:
            lot.matured = True
        if sum(lot.remaining for lot in due):
            self.settle_debts(cutoff)

    def expire(self, cutoff: dt.datetime) -> list[int]:
        """Expire what is left of lapsed lots; the points of each expiry posting."""
        expired = []
        for lot in self.lots.values():
            if (
                lot.matured
                and lot.remaining > 0
                and lot.expires_at is not None
                and lot.expires_at <= cutoff
            ):
                expired.append(-lot.remaining)
                lot.remaining = 0
        return expired

    def settle_due(self, now: dt.datetime) -> list[int]:
        self.mature(now)
        return self.expire(now)


def floor_points(value: Decimal) -> int:
    return int(value.to_integral_value(rounding=ROUND_FLOOR))


def end_of_local_day(moment: dt.datetime) -> dt.datetime:
    day = moment.astimezone(PROGRAM_TZ).date()
    next_day = dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min, tzinfo=PROGRAM_TZ)
    return next_day - dt.timedelta(microseconds=1)


cents = st.integers(min_value=0, max_value=30_000)


class LedgerMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self._atomic = transaction.atomic()
        self._atomic.__enter__()
        self.actor = Actor.system("model")
        self.members = [
            member_enrol(
                external_id=f"M-{i}",
                email=f"m{i}@example.com",
                actor=self.actor,
                enrolled_at=ENROLLED_AT,  # before every order the model places
            )
            for i in range(MEMBERS)
        ]
        self.model = [MemberModel() for _ in range(MEMBERS)]
        self.postings: dict[int, MPosting] = {}
        self.spends: dict[int, list[int]] = {}  # spend posting id -> lots it drew on
        self.orders: dict[str, MOrder] = {}
        self.now = START
        self.allow_negative = True
        self.lifetime = 365
        self.seq = 0
        self.watermark = Posting.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
        self.expected: list[tuple[int, str, int]] = []
        ProgramSettings.objects.filter(pk=program_settings().pk).update(
            allow_negative_balance=True, points_lifetime_days=365, pending_days=PENDING_DAYS
        )

    def teardown(self):
        transaction.set_rollback(True)
        self._atomic.__exit__(None, None, None)

    # helpers

    def _key(self, prefix: str) -> str:
        self.seq += 1
        return f"{prefix}-{self.seq}"

    def _expect(self, member: int, kind: str, points: int) -> None:
        self.expected.append((member, kind, points))

    def _expiry(self, start: dt.datetime) -> dt.datetime | None:
        return start + dt.timedelta(days=self.lifetime) if self.lifetime else None

    def _snapshot(self):
        return copy.deepcopy((self.model, self.postings, self.spends, self.orders))

    def _restore(self, snapshot) -> None:
        self.model, self.postings, self.spends, self.orders = snapshot

    def _refused(self, error: ServiceError, expected: str | None, snapshot) -> None:
        """The service refused: it must be the refusal the model expected, and change nothing."""
        assert error.code == expected
        self._restore(snapshot)

    def _register(self, posting: Posting, member: int, order: str | None = None) -> None:
        self.postings[posting.pk] = MPosting(member, posting.kind, posting.points, order)

    # rules

    @rule(
        member=st.integers(0, MEMBERS - 1),
        total=cents,
        eligible_share=st.one_of(st.none(), st.integers(0, 100)),
        placed_days_ago=st.sampled_from([0, 0, 3, 13, 14, 20, 400]),
    )
    def earn(self, member, total, eligible_share, placed_days_ago):
        total_amount = Decimal(total) / 100
        eligible_total = (
            None
            if eligible_share is None
            else (total_amount * eligible_share / 100).quantize(Decimal("0.01"), ROUND_FLOOR)
        )
        eligible = total_amount if eligible_total is None else eligible_total
        placed_at = self.now - dt.timedelta(days=placed_days_ago)
        order_id = self._key("O")

        result = order_record(
            order_id=order_id,
            member=self.members[member],
            placed_at=placed_at,
            currency="GBP",
            total=total_amount,
            eligible_total=eligible_total,
            actor=self.actor,
            now=self.now,
        )

        assert result.created
        assert result.base == floor_points(eligible)
        available_at = placed_at + dt.timedelta(days=PENDING_DAYS)
        lots = []
        for posting in result.order.postings.order_by("pk"):
            self._register(posting, member, order_id)
            self._expect(member, posting.kind, posting.points)
            self.model[member].credit(
                posting.pk,
                posting.kind,
                posting.points,
                available_at,
                self._expiry(available_at),
                self.now,
            )
            lots.append(posting.pk)
        self.orders[order_id] = MOrder(member, result.total, eligible, lots)

    @precondition(lambda self: self.orders)
    @rule(
        pick=st.integers(0, 10**6),
        mode=st.sampled_from(["part", "part", "rest", "over"]),
        share=st.integers(1, 100),
    )
    def refund(self, pick, mode, share):
        order_id = sorted(self.orders)[pick % len(self.orders)]
        order = self.orders[order_id]
        left = order.eligible - order.refunded
        if mode == "over" or left <= 0:
            amount = left + Decimal(share) / 100
        elif mode == "rest":
            amount = left
        else:
            amount = max(
                (left * share / 100).quantize(Decimal("0.01"), ROUND_FLOOR), Decimal("0.01")
            )
        m = self.model[order.member]

        if order.refunded + amount > order.eligible:
            with pytest.raises(ServiceError) as excinfo:
                refund_record(
                    order_id=order_id,
                    refund_id=self._key("R"),
                    amount=amount,
                    actor=self.actor,
                    now=self.now,
                )
            assert excinfo.value.code == "refund_exceeds_order"
            return

        refund_id = self._key("R")
        result = refund_record(
            order_id=order_id, refund_id=refund_id, amount=amount, actor=self.actor, now=self.now
        )

        order.refunded += amount
        target = (
            floor_points(Decimal(order.points) * order.refunded / order.eligible)
            if order.eligible > 0 and order.points > 0
            else 0
        )
        to_reverse = max(target - order.reversed, 0)
        # never what a Supervisor already took back
        to_reverse = min(to_reverse, max(order.points - order.reversed - order.staff_taken, 0))
        pending_first = sorted(pk for pk in order.lots if not m.lots[pk].matured)
        cap = to_reverse
        if not self.allow_negative:
            reachable = sum(m.lots[pk].remaining for pk in m.spendable(self.now)) - sum(
                m.debts.values()
            )
            reachable += sum(m.lots[pk].remaining for pk in pending_first)
            cap = max(min(to_reverse, reachable), 0)
        assert (result.refund.points_reversed, result.refund.shortfall) == (cap, to_reverse - cap)
        order.reversed += to_reverse
        order.refund_taken += cap
        if cap:
            posting = Posting.objects.get(refund=result.refund)
            plan, left = m.plan_debit(cap, self.now, pending_first)
            assert self.allow_negative or left == 0
            m.apply_debit(posting.pk, plan, left)
            self._register(posting, order.member, order_id)
            self._expect(order.member, "refund_reversal", -cap)

    @rule(member=st.integers(0, MEMBERS - 1), points=st.integers(-3000, 3000).filter(bool))
    def adjust(self, member, points):
        m = self.model[member]
        snapshot = self._snapshot()
        expired = m.settle_due(self.now)
        if points < 0:
            plan, left = m.plan_debit(-points, self.now)
        try:
            posting = points_adjust_post(
                member=self.members[member],
                points=points,
                reason="model",
                actor=self.actor,
                idempotency_key=self._key("adjust"),
                now=self.now,
            )
        except ServiceError as error:
            self._refused(error, "insufficient_points" if points < 0 and left else None, snapshot)
            return
        for points_expired in expired:
            self._expect(member, "expire", points_expired)
        self._register(posting, member)
        self._expect(member, "adjust", points)
        if points > 0:
            m.credit(posting.pk, "adjust", points, self.now, self._expiry(self.now), self.now)
        else:
            assert left == 0
            m.apply_debit(posting.pk, plan, 0)

    @rule(member=st.integers(0, MEMBERS - 1), points=st.integers(1, 3000))
    def spend(self, member, points):
        m = self.model[member]
        snapshot = self._snapshot()
        expired = m.settle_due(self.now)
        plan, left = m.plan_debit(points, self.now)
        try:
            with transaction.atomic():
                posting = points_spend(
                    member=self.members[member],
                    points=points,
                    actor=self.actor,
                    idempotency_key=self._key("spend"),
                    reward_code="MODEL",
                    now=self.now,
                )
        except ServiceError as error:
            self._refused(error, "insufficient_points" if left else None, snapshot)
            return
        assert left == 0
        for points_expired in expired:
            self._expect(member, "expire", points_expired)
        # No pending and no expired point was spent, and the lots are exactly the model's FIFO.
        allocations = list(
            LotAllocation.objects.filter(posting=posting)
            .order_by("pk")
            .values_list("lot_id", "points", "lot__matured", "lot__expires_at")
        )
        for _, _, matured, expires_at in allocations:
            assert matured
            assert expires_at is None or expires_at > self.now
        assert sorted((lot, take) for lot, take, *_ in allocations) == sorted(plan)
        m.apply_debit(posting.pk, plan, 0)
        self._register(posting, member)
        self._expect(member, "redeem", -points)
        self.spends[posting.pk] = [pk for pk, _ in plan]

    @precondition(lambda self: self.spends)
    @rule(pick=st.integers(0, 10**6), fresh_key=st.booleans(), same_key_again=st.booleans())
    def return_spend(self, pick, fresh_key, same_key_again):
        spend_pk = sorted(self.spends)[pick % len(self.spends)]
        spend = self.postings[spend_pk]
        m = self.model[spend.member]
        # The rewards app keys a return by its redemption; another key must not give twice.
        key = self._key("return") if fresh_key else f"return-{spend_pk}"
        with transaction.atomic():
            posting = points_return(
                spend=Posting.objects.get(pk=spend_pk),
                actor=self.actor,
                idempotency_key=key,
                now=self.now,
            )
            if same_key_again:
                again = points_return(
                    spend=Posting.objects.get(pk=spend_pk),
                    actor=self.actor,
                    idempotency_key=key,
                    now=self.now,
                )
                assert again.pk == posting.pk
        if posting.pk in self.postings:
            return  # given back before: nothing new
        assert not spend.reversed
        spend.reversed = True
        expiries = [m.lots[pk].expires_at for pk in self.spends[spend_pk]]
        expires_at = None if None in expiries else max(expiries)
        if expires_at is not None:
            expires_at = max(expires_at, self.now)
        assert posting.expires_at == expires_at
        self._register(posting, spend.member)
        self._expect(spend.member, "cancel_redemption", -spend.points)
        m.credit(posting.pk, "cancel_redemption", -spend.points, self.now, expires_at, self.now)

    @precondition(lambda self: self.postings)
    @rule(pick=st.integers(0, 10**6))
    def reverse(self, pick):
        pk = sorted(self.postings)[pick % len(self.postings)]
        target = self.postings[pk]
        m = self.model[target.member]
        snapshot = self._snapshot()
        expected_error = None
        order = self.orders.get(target.order) if target.order else None
        points = target.points
        order_credit = points > 0 and order is not None
        if order_credit:  # reversed only as far as the order still holds its points
            points = min(points, order.held)
        if target.kind in ("reversal", "expire"):
            expected_error = "not_reversible"
        elif target.reversed:
            expected_error = "already_reversed"
        elif order_credit and points <= 0:
            expected_error = "not_reversible"
        else:
            expired = m.settle_due(self.now)
            if points > 0:
                own = [pk] if m.lots[pk].remaining > 0 else []
                plan, left = m.plan_debit(points, self.now, own)
                if left and not self.allow_negative:
                    expected_error = "insufficient_points"
        try:
            posting = posting_reverse(
                posting=Posting.objects.get(pk=pk), reason="model", actor=self.actor, now=self.now
            )
        except ServiceError as error:
            self._refused(error, expected_error, snapshot)
            return
        assert expected_error is None
        target.reversed = True
        for points_expired in expired:
            self._expect(target.member, "expire", points_expired)
        self._register(posting, target.member, target.order)
        self.postings[posting.pk].kind = "reversal"
        self._expect(target.member, "reversal", -points)
        if order is not None:
            order.staff_taken += points
        if points > 0:
            m.apply_debit(posting.pk, plan, left)
        else:
            m.credit(posting.pk, "reversal", -points, self.now, self._expiry(self.now), self.now)

    @rule()
    def daily_jobs(self):
        cutoff = end_of_local_day(self.now)

        report = daily_jobs_run(as_of=self.now.astimezone(PROGRAM_TZ).date())

        expired_total = 0
        for i, m in enumerate(self.model):
            m.mature(cutoff)
            for points in m.expire(cutoff):
                self._expect(i, "expire", points)
                expired_total += 1
        assert report.expired_lots == expired_total

    @rule(days=st.sampled_from([0, 1, 1, 2, 7, 13, 14, 15, 30, 100, 366]), hours=st.integers(0, 23))
    def advance_clock(self, days, hours):
        self.now += dt.timedelta(days=days, hours=hours)

    @rule()
    def toggle_negative_balance(self):
        self.allow_negative = not self.allow_negative
        ProgramSettings.objects.filter(pk=1).update(allow_negative_balance=self.allow_negative)

    @rule(days=st.sampled_from([0, 30, 365]))
    def set_lifetime(self, days):
        self.lifetime = days
        ProgramSettings.objects.filter(pk=1).update(points_lifetime_days=days)

    # checks after every step

    @invariant()
    def postings_are_the_expected_ones(self):
        new = list(
            Posting.objects.filter(pk__gt=self.watermark)
            .order_by("pk")
            .values_list("pk", "member_id", "kind", "points")
        )
        index = {mem.pk: i for i, mem in enumerate(self.members)}
        made = Counter((index[member_id], kind, points) for _, member_id, kind, points in new)
        assert made == Counter(self.expected)
        for pk, member_id, kind, points in new:
            if pk not in self.postings:  # expiries made outside the daily job
                self.postings[pk] = MPosting(index[member_id], kind, points)
        self.expected = []
        if new:
            self.watermark = new[-1][0]

    @invariant()
    def balances_lots_and_debts_match_the_model(self):
        for member, m in zip(self.members, self.model, strict=True):
            account = Account.objects.filter(member=member).first()
            cached = (
                (account.available, account.pending, account.lifetime_earned)
                if account
                else (0, 0, 0)
            )
            assert cached == (m.available, m.pending, m.lifetime_earned)
            posted = Posting.objects.filter(member=member).aggregate(s=Sum("points"))["s"] or 0
            assert posted == m.available + m.pending
            lots = {
                pk: (remaining, matured)
                for pk, remaining, matured in Lot.objects.filter(member=member).values_list(
                    "pk", "remaining", "matured"
                )
            }
            assert lots == {pk: (lot.remaining, lot.matured) for pk, lot in m.lots.items()}
            assert all(lot.remaining >= 0 for lot in m.lots.values())
            debts = dict(Debt.objects.filter(member=member).values_list("pk", "remaining"))
            assert debts == m.debts

    @invariant()
    def reversals_never_exceed_what_an_order_earned(self):
        orders = Order.objects.filter(member__in=self.members).annotate(
            by_refunds=Sum("postings__points", filter=Q(postings__kind="refund_reversal")),
            by_staff=Sum("postings__points", filter=Q(postings__kind="reversal")),
        )
        for order in orders:
            by_refunds, by_staff = -(order.by_refunds or 0), -(order.by_staff or 0)
            assert 0 <= by_refunds <= order.points_earned
            assert 0 <= by_refunds + by_staff <= order.points_earned
            assert order.points_reversed <= order.points_earned
            assert order.points_earned - by_refunds - by_staff == self.orders[order.order_id].held

    @invariant()
    def audit_is_clean(self):
        assert ledger_audit().mismatches == []


@pytest.mark.slow
def test_the_ledger_agrees_with_a_simple_model(db):
    from hypothesis.stateful import run_state_machine_as_test

    run_state_machine_as_test(LedgerMachine, settings=settings.get_profile(PROFILE))
