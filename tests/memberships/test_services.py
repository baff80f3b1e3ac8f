"""Membership services: start, renew, cancel, refund (worked examples), perk usage, daily step."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction

from config.errors import ServiceError
from events.models import Event
from loyalty.services.jobs import daily_jobs_run, daily_step_names
from memberships.models import Membership, MembershipCharge, MembershipPeriod, PerkUsage
from memberships.services import (
    membership_cancel,
    membership_perk_usage_record,
    membership_refund,
    membership_renew,
    membership_start,
    memberships_lapse_and_expire,
    refund_quote,
)
from memberships.services.common import months_add
from tests.memberships.conftest import T0, days

pytestmark = pytest.mark.django_db


def _start(member, actor, *, trial=False, ref="pay-1", now=T0, plan_code="plus"):
    return membership_start(
        member=member,
        plan_code=plan_code,
        trial=trial,
        payment_reference="" if trial else ref,
        actor=actor,
        now=now,
    )


def _codes(member) -> list[tuple[str, dict]]:
    return [
        (e.type, {k: v for k, v in e.payload.items() if k != "member_external_id"})
        for e in Event.objects.filter(member_id=member.pk, type__startswith="membership.")
    ]


def _error(call) -> ServiceError:
    with pytest.raises(ServiceError) as caught:
        call()
    return caught.value


# --- the calendar -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "months", "end"),
    [
        (dt.datetime(2026, 1, 31, 9, tzinfo=dt.UTC), 1, dt.datetime(2026, 2, 28, 9, tzinfo=dt.UTC)),
        (dt.datetime(2028, 1, 31, 9, tzinfo=dt.UTC), 1, dt.datetime(2028, 2, 29, 9, tzinfo=dt.UTC)),
        (dt.datetime(2026, 11, 15, tzinfo=dt.UTC), 3, dt.datetime(2027, 2, 15, tzinfo=dt.UTC)),
        (dt.datetime(2026, 3, 1, tzinfo=dt.UTC), 12, dt.datetime(2027, 3, 1, tzinfo=dt.UTC)),
    ],
)
def test_months_add_clamps_to_the_month_end(start, months, end):
    assert months_add(start, months) == end


# --- start ------------------------------------------------------------------------------------


def test_paid_start_records_the_period_its_payment_and_the_event(member, plan, system_actor):
    membership = _start(member, system_actor, ref="pay-1")

    assert (membership.status, membership.current_period_start, membership.current_period_end) == (
        "active",
        T0,
        dt.datetime(2026, 2, 1, 10, tzinfo=dt.UTC),
    )
    period = MembershipPeriod.objects.get(membership=membership)
    assert (period.number, period.kind, period.starts_at, period.ends_at) == (
        1,
        "paid",
        T0,
        dt.datetime(2026, 2, 1, 10, tzinfo=dt.UTC),
    )
    assert (period.payment.amount, period.payment.currency, period.payment.payment_reference) == (
        Decimal("12.00"),
        "GBP",
        "pay-1",
    )
    assert _codes(member) == [
        (
            "membership.started",
            {
                "membership_id": membership.pk,
                "plan": "plus",
                "status": "active",
                "period_end": "2026-02-01T10:00:00Z",
                "amount": "12.00",
                "currency": "GBP",
            },
        )
    ]


def test_trial_start_has_no_payment_and_is_once_per_member_and_plan(member, plan, system_actor):
    membership = _start(member, system_actor, trial=True)
    assert (membership.status, membership.current_period_end) == ("trialing", T0 + days(14))
    assert MembershipCharge.objects.count() == 0
    membership_cancel(membership=membership, at_period_end=False, actor=system_actor, now=T0)
    memberships_lapse_and_expire(cutoff=T0 + days(1))

    again = _error(lambda: _start(member, system_actor, trial=True, now=T0 + days(2)))

    assert again.code == "trial_unavailable"
    assert _start(member, system_actor, ref="pay-9", now=T0 + days(2)).status == "active"


def test_start_refusals_name_their_code(member, make_plan, system_actor):
    make_plan(code="old", name="Old", active=False)
    make_plan(code="notrial", name="No trial", trial_days=0)
    make_plan(code="plus")

    assert _error(lambda: _start(member, system_actor, plan_code="nope")).code == "plan_not_found"
    assert _error(lambda: _start(member, system_actor, plan_code="old")).code == "plan_inactive"
    refused = _error(lambda: _start(member, system_actor, plan_code="notrial", trial=True))
    assert refused.code == "trial_unavailable"
    no_ref = _error(lambda: _start(member, system_actor, ref=""))
    assert (no_ref.code, no_ref.errors[0]["field"]) == ("validation_error", "payment_reference")
    first = _start(member, system_actor, ref="pay-1")
    twice = _error(lambda: _start(member, system_actor, ref="pay-2"))
    assert (twice.code, twice.status, twice.extra) == (
        "already_member",
        409,
        {"membership_id": first.pk, "state": "active"},
    )
    assert Membership.objects.count() == 1


def test_a_payment_reference_pays_for_one_period_only(member, make_member, plan, system_actor):
    _start(member, system_actor, ref="pay-1")
    other = make_member()

    refused = _error(lambda: _start(other, system_actor, ref="pay-1"))

    assert (refused.code, refused.status) == ("payment_reference_used", 409)
    assert Membership.objects.filter(member=other).count() == 0


# --- renew and cancel --------------------------------------------------------------------------


def test_renewal_starts_where_the_trial_ends(member, plan, system_actor):
    membership = _start(member, system_actor, trial=True)

    renewed = membership_renew(
        membership=membership, payment_reference="pay-2", actor=system_actor, now=T0 + days(3)
    )

    assert (renewed.status, renewed.current_period_start, renewed.current_period_end) == (
        "active",
        T0 + days(14),
        months_add(T0 + days(14), 1),
    )
    assert list(renewed.periods.values_list("number", "kind")) == [(1, "trial"), (2, "paid")]
    assert _codes(member)[-1][0] == "membership.renewed"


def test_cancel_at_period_end_keeps_the_perks_until_then(member, plan, system_actor):
    membership = _start(member, system_actor)
    end = membership.current_period_end

    cancelled = membership_cancel(
        membership=membership, at_period_end=True, actor=system_actor, now=T0 + days(5)
    )

    assert (cancelled.status, cancelled.ends_at, cancelled.cancelled_at) == (
        "cancelled",
        end,
        T0 + days(5),
    )
    assert memberships_lapse_and_expire(cutoff=end - dt.timedelta(seconds=1)) == (0, 0)
    assert memberships_lapse_and_expire(cutoff=end) == (0, 1)
    expired = Membership.objects.get()
    assert (expired.status, expired.ended_at) == ("expired", end)
    assert [t for t, _ in _codes(member)] == [
        "membership.started",
        "membership.cancelled",
        "membership.expired",
    ]


def test_renew_of_a_cancelled_membership_is_refused_naming_the_state(member, plan, system_actor):
    membership = _start(member, system_actor)
    membership_cancel(membership=membership, at_period_end=False, actor=system_actor, now=T0)

    refused = _error(
        lambda: membership_renew(membership=membership, payment_reference="p2", actor=system_actor)
    )

    assert (refused.code, refused.status, refused.extra) == (
        "invalid_transition",
        409,
        {"state": "cancelled"},
    )
    assert "cancelled" in refused.message
    assert MembershipPeriod.objects.count() == 1


# --- the daily step ------------------------------------------------------------------------------


def test_a_failed_renewal_is_past_due_then_expired_after_the_grace(member, plan, system_actor):
    membership = _start(member, system_actor)
    end = membership.current_period_end

    assert memberships_lapse_and_expire(cutoff=end + days(1)) == (1, 0)
    past_due = Membership.objects.get()
    assert (past_due.status, past_due.grace_until) == ("past_due", end + days(7))
    assert memberships_lapse_and_expire(cutoff=end + days(6)) == (0, 0)  # a second run: nothing
    assert memberships_lapse_and_expire(cutoff=end + days(8)) == (0, 1)
    expired = Membership.objects.get()
    assert (expired.status, expired.ended_at) == ("expired", end + days(7))
    assert _codes(member)[1:] == [
        (
            "membership.past_due",
            {
                "membership_id": membership.pk,
                "plan": "plus",
                "period_end": "2026-02-01T10:00:00Z",
                "grace_until": "2026-02-08T10:00:00Z",
            },
        ),
        (
            "membership.expired",
            {
                "membership_id": membership.pk,
                "plan": "plus",
                "reason": "grace_ended",
                "ended_at": "2026-02-08T10:00:00Z",
            },
        ),
    ]


def test_a_renewal_in_the_grace_pays_from_the_old_end(member, plan, system_actor):
    membership = _start(member, system_actor)
    end = membership.current_period_end
    memberships_lapse_and_expire(cutoff=end + days(1))

    renewed = membership_renew(
        membership=membership, payment_reference="pay-2", actor=system_actor, now=end + days(3)
    )

    assert (renewed.status, renewed.grace_until, renewed.current_period_start) == (
        "active",
        None,
        end,
    )
    assert memberships_lapse_and_expire(cutoff=end + days(10)) == (0, 0)


def test_zero_grace_expires_in_the_same_run(member, make_plan, system_actor):
    make_plan(grace_days=0)
    membership = _start(member, system_actor)

    assert memberships_lapse_and_expire(cutoff=membership.current_period_end) == (1, 1)
    assert Membership.objects.get().status == "expired"


# --- refunds: worked examples ------------------------------------------------------------------

JAN = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
FEB = dt.datetime(2026, 2, 1, tzinfo=dt.UTC)  # a 31-day period


@pytest.mark.parametrize(
    ("rule", "used", "now", "amount", "reason"),
    [
        # Full within 14 days if no perk was used.
        ("full_if_unused", False, JAN + days(13.9), Decimal("12.00"), ""),
        ("full_if_unused", False, JAN + days(14), Decimal("0.00"), "too_late"),
        ("full_if_unused", True, JAN + days(1), Decimal("0.00"), "perk_used"),
        # Prorated: 12.00 × whole days left ÷ 31, rounded down to the cent.
        ("prorated", False, JAN + days(10) + dt.timedelta(hours=14), Decimal("7.74"), ""),
        ("prorated", True, JAN + days(10) + dt.timedelta(hours=14), Decimal("7.74"), ""),
        ("prorated", False, JAN, Decimal("12.00"), ""),
        ("prorated", False, JAN - days(3), Decimal("12.00"), ""),  # paid ahead, not begun
        ("prorated", False, JAN + days(30), Decimal("0.38"), ""),  # 12 × 1/31 = 0.387...
        ("prorated", False, JAN + days(30.5), Decimal("0.00"), "period_over"),
        ("none", False, JAN, Decimal("0.00"), "no_refunds"),
    ],
)
def test_refund_rule_worked_examples(rule, used, now, amount, reason):
    quote = refund_quote(
        rule=rule,
        refund_days=14,
        paid=Decimal("12.00"),
        starts_at=JAN,
        ends_at=FEB,
        perk_used=used,
        now=now,
    )
    assert (quote.amount, quote.reason) == (amount, reason)


def test_refund_a_year_prorated(member, make_plan, system_actor):
    make_plan(price=Decimal("99.00"), period_months=12, refund_rule="prorated")
    membership = _start(member, system_actor, now=JAN)  # 365 days to 2027-01-01

    refund = membership_refund(membership=membership, actor=system_actor, now=JAN + days(100))

    # 99.00 × 265 / 365 = 71.876... -> 71.87
    assert (refund.amount, refund.currency, refund.period_number) == (Decimal("-71.87"), "GBP", 1)
    refunded = Membership.objects.get()
    assert (refunded.status, refunded.ended_at) == ("refunded", JAN + days(100))
    assert _codes(member)[-1] == (
        "membership.refunded",
        {
            "membership_id": membership.pk,
            "plan": "plus",
            "period_number": 1,
            "amount": "71.87",
            "currency": "GBP",
        },
    )


def test_a_perk_used_bars_the_full_refund(member, plan, system_actor):
    membership = _start(member, system_actor)
    usage, created = membership_perk_usage_record(
        membership=membership,
        perk_code="free_shipping",
        order_id="O-1",
        actor=system_actor,
        now=T0 + days(1),
    )
    again, created_again = membership_perk_usage_record(
        membership=membership, perk_code="free_shipping", order_id="O-1", actor=system_actor
    )

    refused = _error(
        lambda: membership_refund(membership=membership, actor=system_actor, now=T0 + days(2))
    )

    assert (created, created_again, again.pk, usage.period_number) == (True, False, usage.pk, 1)
    assert (refused.code, refused.extra) == ("not_refundable", {"reason": "perk_used"})
    assert Membership.objects.get().status == "active"
    assert MembershipCharge.objects.filter(kind="refund").count() == 0


def test_full_refund_within_the_days_and_then_no_second(member, plan, system_actor):
    membership = _start(member, system_actor)

    refund = membership_refund(membership=membership, actor=system_actor, now=T0 + days(2))
    second = _error(lambda: membership_refund(membership=membership, actor=system_actor))

    assert refund.amount == Decimal("-12.00")
    assert (second.code, second.extra) == ("invalid_transition", {"state": "refunded"})


def test_a_trial_has_nothing_to_refund(member, plan, system_actor):
    membership = _start(member, system_actor, trial=True)
    membership_cancel(membership=membership, at_period_end=True, actor=system_actor, now=T0)

    refused = _error(lambda: membership_refund(membership=membership, actor=system_actor, now=T0))

    assert (refused.code, refused.extra) == ("not_refundable", {"reason": "nothing_paid"})


def test_a_supervisor_refunds_another_amount_with_a_reason(member, make_plan, system_actor):
    make_plan(refund_rule="none")
    membership = _start(member, system_actor)

    refund = membership_refund(
        membership=membership,
        actor=system_actor,
        amount=Decimal("5.50"),
        reason="Goodwill: parcel lost",
        now=T0 + days(20),
    )
    too_much = _error(
        lambda: membership_refund(
            membership=_start(member, system_actor, ref="pay-2", now=T0 + days(21)),
            actor=system_actor,
            amount=Decimal("12.01"),
        )
    )

    assert (refund.amount, refund.reason) == (Decimal("-5.50"), "Goodwill: parcel lost")
    assert (too_much.code, too_much.errors[0]["field"]) == ("validation_error", "amount")


def test_perk_usage_refusals(member, plan, system_actor):
    membership = _start(member, system_actor)

    unknown = _error(
        lambda: membership_perk_usage_record(
            membership=membership, perk_code="lounge", order_id="O-1", actor=system_actor
        )
    )
    membership_cancel(membership=membership, at_period_end=False, actor=system_actor, now=T0)
    over = _error(
        lambda: membership_perk_usage_record(
            membership=membership, perk_code="free_shipping", order_id="O-2", actor=system_actor
        )
    )

    assert unknown.code == "perk_not_found"
    assert (over.code, over.extra) == ("invalid_transition", {"state": "cancelled"})
    assert PerkUsage.objects.count() == 0


# --- the database holds the history ------------------------------------------------------------


def test_history_rows_are_append_only_on_postgresql(member, plan, system_actor, is_postgres):
    if not is_postgres:
        pytest.skip("the append-only triggers are PostgreSQL's")
    membership = _start(member, system_actor)
    for model, change in (
        (MembershipPeriod, {"ends_at": T0 + days(99)}),
        (MembershipCharge, {"amount": Decimal("1.00")}),
    ):
        with pytest.raises(Exception, match="pgtrigger: Cannot"), transaction.atomic():
            model.objects.filter(membership=membership).update(**change)
        # Raw SQL, below Django's PROTECT: the trigger has the last word.
        with (
            pytest.raises(Exception, match="pgtrigger: Cannot"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(
                f"DELETE FROM {model._meta.db_table} WHERE membership_id = %s", [membership.pk]
            )
    # Erasure may rewrite a charge's free text; nothing else.
    assert MembershipCharge.objects.filter(membership=membership).update(reason="x") == 1
    assert connection.vendor == "postgresql"


def test_one_open_membership_per_member_and_plan_is_a_constraint(member, plan, system_actor):
    membership = _start(member, system_actor)
    with pytest.raises(IntegrityError), transaction.atomic():
        Membership.objects.create(
            member=member,
            plan=plan,
            status="trialing",
            started_at=T0,
            current_period_start=T0,
            current_period_end=T0 + days(1),
            **system_actor.as_fields(),
        )
    assert Membership.objects.get().pk == membership.pk


def test_the_daily_jobs_run_the_membership_step(member, plan, system_actor):
    membership = _start(member, system_actor)  # ends 2026-02-01 10:00 UTC

    before = daily_jobs_run(as_of=dt.date(2026, 1, 31))
    report = daily_jobs_run(as_of=dt.date(2026, 2, 1))

    assert "paid_memberships" in daily_step_names()
    assert (before.steps["paid_memberships"], report.steps["paid_memberships"]) == (0, 1)
    assert Membership.objects.get(pk=membership.pk).status == "past_due"
