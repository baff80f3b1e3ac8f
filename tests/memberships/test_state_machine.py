"""The membership state machine against a small model, with Hypothesis.

Random sequences of every action (start a trial or a paid period, renew, cancel at the period's
end or now, refund, report a perk used, let time pass and run the daily step) run against the
services and against a model of the states (`memberships.states`). After each step the database
agrees with the model: the state, the current period's end, the grace and the end of a cancelled
one. An action the model says is illegal must be refused with `invalid_transition` naming the
state (or `already_member` for a second start), and must leave nothing behind. Invariants of the
paid history hold throughout: periods numbered 1..n, each starting where the previous ended; one
payment per paid period, at most one refund; one event per transition.

Each example runs in its own savepoint, rolled back at teardown, so examples never see each other.
`HYPOTHESIS_PROFILE=thorough` runs many more.
"""

from __future__ import annotations

import datetime as dt
import itertools
import os
from decimal import Decimal

import pytest
from django.db import transaction
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from config.errors import ServiceError
from events.models import Event
from loyalty.services.tier_config import perk_save
from members.actors import Actor
from members.services import member_enrol
from memberships import services
from memberships.models import Membership, MembershipCharge
from memberships.services.common import months_add

START = dt.datetime(2026, 1, 5, 10, 0, tzinfo=dt.UTC)
TRIAL, GRACE = 14, 7
OPEN = {"trialing", "active", "past_due", "cancelled"}

settings.register_profile(
    "memberships-default",
    max_examples=int(os.environ.get("MEMBERSHIP_MODEL_EXAMPLES", "20")),
    stateful_step_count=20,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    print_blob=True,
    report_multiple_bugs=False,
)
settings.register_profile(
    "memberships-thorough",
    parent=settings.get_profile("memberships-default"),
    max_examples=300,
    stateful_step_count=50,
)
PROFILE = (
    "memberships-thorough"
    if os.environ.get("HYPOTHESIS_PROFILE") == "thorough"
    else "memberships-default"
)


class Model:
    """What one membership should be: the state and its times."""

    def __init__(self):
        self.state: str | None = None
        self.period_end: dt.datetime | None = None
        self.ends_at: dt.datetime | None = None
        self.grace_until: dt.datetime | None = None
        self.paid = False  # a paid period in this membership
        self.had_trial = False  # ever, in this plan
        self.events = 0


class MembershipMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self._atomic = transaction.atomic()
        self._atomic.__enter__()
        self.actor = Actor.system("model")
        perk = perk_save(actor=self.actor, code="ship", name="Ship", kind="free_shipping")
        services.plan_save(
            actor=self.actor,
            code="plus",
            name="Plus",
            price=Decimal("10.00"),
            currency="EUR",
            period_months=1,
            trial_days=TRIAL,
            grace_days=GRACE,
            refund_rule="prorated",
            perks=[perk],
        )
        self.member = member_enrol(
            external_id="SM-1", email="sm@example.com", actor=self.actor, enrolled_at=START
        )
        self.model = Model()
        self.membership: Membership | None = None
        self.now = START
        self.seq = 0
        self.events_before = 0  # events of earlier memberships of the member

    def teardown(self):
        transaction.set_rollback(True)
        self._atomic.__exit__(None, None, None)

    def _ref(self) -> str:
        self.seq += 1
        return f"pay-{self.seq}"

    def _refused(self, call, code: str) -> ServiceError:
        with pytest.raises(ServiceError) as caught:
            call()
        assert caught.value.code == code, (caught.value.code, caught.value.message)
        return caught.value

    def _illegal(self, call) -> None:
        error = self._refused(call, "invalid_transition")
        assert error.extra == {"state": self.model.state}
        assert self.model.state in error.message

    # --- actions ---------------------------------------------------------------------------

    @rule(trial=st.booleans())
    def start(self, trial):
        m = self.model
        if m.state in OPEN:
            self._refused(
                lambda: services.membership_start(
                    member=self.member, plan_code="plus", trial=trial,
                    payment_reference="" if trial else self._ref(), actor=self.actor,
                    now=self.now,
                ),
                "already_member",
            )  # fmt: skip
            return
        if trial and m.had_trial:
            self._refused(
                lambda: services.membership_start(
                    member=self.member, plan_code="plus", trial=True, actor=self.actor,
                    now=self.now,
                ),
                "trial_unavailable",
            )  # fmt: skip
            return
        self.membership = services.membership_start(
            member=self.member,
            plan_code="plus",
            trial=trial,
            payment_reference="" if trial else self._ref(),
            actor=self.actor,
            now=self.now,
        )
        self.events_before += m.events
        had_trial = m.had_trial or trial
        self.model = m = Model()
        m.had_trial = had_trial
        m.state = "trialing" if trial else "active"
        m.period_end = self.now + dt.timedelta(days=TRIAL) if trial else months_add(self.now, 1)
        m.paid = not trial
        m.events = 1

    @precondition(lambda self: self.membership is not None)
    @rule()
    def renew(self):
        m = self.model
        call = lambda: services.membership_renew(  # noqa: E731
            membership=self.membership,
            payment_reference=self._ref(),
            actor=self.actor,
            now=self.now,
        )
        if m.state not in ("trialing", "active", "past_due"):
            return self._illegal(call)
        call()
        m.state, m.period_end, m.grace_until, m.paid = (
            "active",
            months_add(m.period_end, 1),
            None,
            True,
        )
        m.events += 1

    @precondition(lambda self: self.membership is not None)
    @rule(at_period_end=st.booleans())
    def cancel(self, at_period_end):
        m = self.model
        call = lambda: services.membership_cancel(  # noqa: E731
            membership=self.membership, at_period_end=at_period_end, actor=self.actor, now=self.now
        )
        if m.state not in ("trialing", "active", "past_due"):
            return self._illegal(call)
        call()
        running = m.state != "past_due"
        m.ends_at = max(m.period_end, self.now) if at_period_end and running else self.now
        m.state = "cancelled"
        m.events += 1

    @precondition(lambda self: self.membership is not None)
    @rule()
    def refund(self):
        m = self.model
        call = lambda: services.membership_refund(  # noqa: E731
            membership=self.membership, actor=self.actor, now=self.now
        )
        if m.state not in ("active", "cancelled"):
            return self._illegal(call)
        # Prorated: 10.00 × whole days left ÷ the period's days is > 0 while a whole day is left.
        if not m.paid or m.period_end - self.now < dt.timedelta(days=1):
            error = self._refused(call, "not_refundable")
            assert error.extra == {"reason": "period_over" if m.paid else "nothing_paid"}
            return
        refund = call()
        assert Decimal("0.32") <= -refund.amount <= Decimal("10.00")
        m.state, m.events = "refunded", m.events + 1

    @precondition(lambda self: self.membership is not None)
    @rule()
    def use_a_perk(self):
        m = self.model
        self.seq += 1
        call = lambda: services.membership_perk_usage_record(  # noqa: E731
            membership=self.membership,
            perk_code="ship",
            order_id=f"O-{self.seq}",
            actor=self.actor,
            now=self.now,
        )
        holds = m.state in ("trialing", "active", "past_due") or (
            m.state == "cancelled" and m.ends_at > self.now
        )
        if not holds:
            return self._illegal(call)
        call()

    @rule(days=st.integers(min_value=0, max_value=40), hours=st.integers(0, 23))
    def time_passes_and_the_daily_step_runs(self, days, hours):
        self.now += dt.timedelta(days=days, hours=hours)
        services.memberships_lapse_and_expire(cutoff=self.now)
        m = self.model
        if m.state in ("trialing", "active") and m.period_end <= self.now:
            m.state, m.grace_until = "past_due", m.period_end + dt.timedelta(days=GRACE)
            m.events += 1
        if (m.state == "past_due" and m.grace_until <= self.now) or (
            m.state == "cancelled" and m.ends_at <= self.now
        ):
            m.state = "expired"
            m.events += 1

    # --- invariants ------------------------------------------------------------------------

    @invariant()
    def the_database_agrees_with_the_model(self):
        if self.membership is None:
            assert not Membership.objects.filter(member=self.member).exists()
            return
        m, row = self.model, Membership.objects.get(pk=self.membership.pk)
        assert row.status == m.state
        assert row.current_period_end == m.period_end
        assert row.grace_until == m.grace_until  # kept after expiry: when the grace ended
        if m.state == "cancelled":
            assert row.ends_at == m.ends_at
        assert Membership.objects.filter(member=self.member, status__in=OPEN).count() == (
            1 if m.state in OPEN else 0
        )

    @invariant()
    def the_paid_history_is_whole(self):
        if self.membership is None:
            return
        periods = list(self.membership.periods.order_by("number"))
        assert [p.number for p in periods] == list(range(1, len(periods) + 1))
        for before, after in itertools.pairwise(periods):
            assert after.starts_at == before.ends_at
        charges = MembershipCharge.objects.filter(membership=self.membership)
        paid = [p for p in periods if p.kind == "paid"]
        assert charges.filter(kind="payment").count() == len(paid)
        assert charges.filter(kind="refund").count() == (1 if self.model.state == "refunded" else 0)
        for refund in charges.filter(kind="refund"):
            assert -refund.amount <= Decimal("10.00")
        assert periods[-1].ends_at == self.model.period_end
        events = Event.objects.filter(member_id=self.member.pk, type__startswith="membership.")
        assert events.count() == self.events_before + self.model.events


def test_memberships_agree_with_the_state_machine_model(db):
    from hypothesis.stateful import run_state_machine_as_test

    run_state_machine_as_test(MembershipMachine, settings=settings.get_profile(PROFILE))
