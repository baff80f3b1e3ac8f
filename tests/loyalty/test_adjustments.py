"""Staff adjustments: limits, requests over them, four-eyes decisions, and the daily-limit race.

Interpretation of the issue's "two agents adjusting at once past the daily limit → exactly one
succeeds": the daily limit is per agent, so the race that matters is one agent adjusting from two
sessions at once (two tabs, two machines), each adjustment within the per-adjustment limit but
together over the daily one: exactly one posts, the other becomes a request (not refused). Two
different agents each have their own daily allowance (tested too).
"""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.contrib.auth.models import Permission
from django.db import IntegrityError, close_old_connections, connection, transaction
from django.utils import timezone

from config.errors import ServiceError
from loyalty.models import Account, AdjustmentRequest, Posting
from loyalty.models.ledger import PostingKind
from loyalty.services.adjustments import (
    adjusted_today,
    adjustment_request,
    adjustment_request_approve,
    adjustment_request_reject,
)
from loyalty.services.points import points_adjust_post
from loyalty.services.program import program_settings_update
from members.actors import Actor
from members.models import AuditEntry
from members.roles import CUSTOMER_SERVICE, MARKETING, SUPERVISOR
from members.services import member_erase
from tests.loyalty.staff import staff_user

# 23:30 in London on 1 July (BST, UTC+1) is still 1 July in UTC; 00:30 London is 2 July.
LONDON_LATE_1_JULY = dt.datetime(2026, 7, 1, 22, 30, tzinfo=dt.UTC)
LONDON_EARLY_2_JULY = dt.datetime(2026, 7, 1, 23, 30, tzinfo=dt.UTC)


@pytest.fixture
def agent(db):
    return staff_user(CUSTOMER_SERVICE, "agent")


@pytest.fixture
def supervisor(db):
    return staff_user(SUPERVISOR, "super")


def _give(member, points, system_actor, key="seed"):
    return points_adjust_post(
        member=member, points=points, reason="seed", actor=system_actor, idempotency_key=key
    )


def _available(member) -> int:
    account = Account.objects.filter(member=member).first()
    return account.available if account else 0


def _adjust(member, user, points, **kwargs):
    kwargs.setdefault("reason", "goodwill")
    return adjustment_request(member=member, points=points, actor=Actor.staff(user), **kwargs)


# --- who posts at once -------------------------------------------------------------------------


def test_supervisor_posts_at_once_without_limits(member, supervisor):
    outcome = _adjust(member, supervisor, 50_000)

    assert outcome.posted
    assert outcome.request is None
    assert outcome.posting.kind == PostingKind.ADJUST
    assert outcome.posting.points == 50_000
    assert outcome.posting.actor_user_id == supervisor.pk
    assert outcome.posting.reason == "goodwill"
    assert _available(member) == 50_000


def test_agent_within_the_per_adjustment_limit_posts_at_once(member, agent):
    outcome = _adjust(member, agent, 1000)  # exactly the default limit

    assert outcome.posted
    assert outcome.posting.actor_label == "agent"
    assert _available(member) == 1000
    assert AdjustmentRequest.objects.count() == 0


def test_agent_over_the_per_adjustment_limit_creates_a_request_not_a_refusal(member, agent):
    outcome = _adjust(member, agent, 1001)

    assert not outcome.posted
    request = outcome.request
    assert request.status == AdjustmentRequest.Status.PENDING
    assert request.points == 1001
    assert request.requested_by_id == agent.pk
    assert request.requested_by_label == "agent"
    assert request.held_because == "over the per-adjustment limit of 1000 points (1001 asked)"
    assert Posting.objects.filter(kind=PostingKind.ADJUST).count() == 0
    assert _available(member) == 0


def test_the_daily_limit_counts_the_absolute_sum_of_the_agents_own_postings(
    member, agent, system_actor
):
    _give(member, 2000, system_actor)
    assert _adjust(member, agent, 600).posted
    assert _adjust(member, agent, -400).posted  # 1000 used: exactly the limit

    outcome = _adjust(member, agent, -1)

    assert not outcome.posted
    assert outcome.held_because == (
        "over the daily limit of 1000 points (1000 already adjusted today, 1 asked)"
    )
    assert adjusted_today(user_id=agent.pk) == 1000
    assert _available(member) == 2200


def test_the_daily_limit_is_per_agent(member, agent):
    other = staff_user(CUSTOMER_SERVICE, "agent2")

    assert _adjust(member, agent, 1000).posted
    assert _adjust(member, other, 1000).posted


def test_the_day_is_the_program_time_zones_day(member, agent):
    # given 1000 points adjusted at 23:30 London time (22:30 UTC, 1 July)
    assert _adjust(member, agent, 1000, now=LONDON_LATE_1_JULY).posted

    # when the agent adjusts again at 00:30 London time (23:30 UTC, still 1 July in UTC)
    outcome = _adjust(member, agent, 1000, now=LONDON_EARLY_2_JULY)

    # then it is a new day in the program's time zone: posted at once
    assert outcome.posted
    assert adjusted_today(user_id=agent.pk, now=LONDON_EARLY_2_JULY) == 1000


def test_limits_come_from_the_program_settings(member, agent, system_actor):
    program_settings_update(actor=system_actor, service_adjustment_limit=50, service_daily_limit=80)

    assert _adjust(member, agent, 50).posted
    assert not _adjust(member, agent, 51).posted
    assert not _adjust(member, agent, 31).posted  # 50 + 31 > 80
    assert _adjust(member, agent, 30).posted


def test_a_pending_request_does_not_use_up_the_daily_limit(member, agent):
    assert not _adjust(member, agent, 5000).posted

    assert _adjust(member, agent, 1000).posted


def test_a_debit_the_balance_cannot_cover_is_refused_even_when_it_would_be_held(
    member, agent, system_actor
):
    _give(member, 100, system_actor)

    with pytest.raises(ServiceError) as within_limit:
        _adjust(member, agent, -101)
    with pytest.raises(ServiceError) as over_limit:
        _adjust(member, agent, -5000)

    assert within_limit.value.code == "insufficient_points"
    assert over_limit.value.code == "insufficient_points"
    assert AdjustmentRequest.objects.count() == 0
    assert _available(member) == 100


def test_the_same_idempotency_key_adjusts_once(member, agent):
    first = _adjust(member, agent, 10, idempotency_key="adjust:tab-1")
    again = _adjust(member, agent, 10, idempotency_key="adjust:tab-1")
    held = _adjust(member, agent, 4000, idempotency_key="adjust:tab-2")
    held_again = _adjust(member, agent, 4000, idempotency_key="adjust:tab-2")

    assert again.posting.pk == first.posting.pk
    assert held_again.request.pk == held.request.pk
    assert _available(member) == 10
    assert AdjustmentRequest.objects.count() == 1


@pytest.mark.parametrize(
    ("points", "reason", "field"),
    [(0, "why", "points"), (10, "   ", "reason"), (True, "why", "points")],
)
def test_points_and_reason_are_required(member, agent, points, reason, field):
    with pytest.raises(ServiceError) as exc:
        _adjust(member, agent, points, reason=reason)

    assert exc.value.code == "validation_error"
    assert exc.value.errors[0]["field"] == field


def test_users_without_an_adjust_permission_are_refused(member, system_actor):
    marketing = staff_user(MARKETING, "marketing")

    with pytest.raises(ServiceError) as staff_exc:
        _adjust(member, marketing, 10)
    with pytest.raises(ServiceError) as system_exc:
        adjustment_request(member=member, points=10, reason="x", actor=system_actor)

    assert staff_exc.value.code == "permission_denied"
    assert system_exc.value.code == "permission_denied"
    assert Posting.objects.count() == 0


def test_an_erased_members_points_are_not_adjusted(member, supervisor, system_actor):
    member = member_erase(member=member, actor=system_actor)

    with pytest.raises(ServiceError) as exc:
        _adjust(member, supervisor, 10)

    assert exc.value.code == "member_erased"


def test_a_request_is_audited_on_the_members_trail(member, agent):
    request = _adjust(member, agent, 2000, reason="lost parcel").request

    entry = AuditEntry.objects.get(action="adjustment.request")
    assert entry.member_id == member.pk
    assert entry.target_id == str(request.pk)
    assert entry.actor_label == "agent"
    assert entry.changes == {"points": [None, 2000]}
    assert entry.reason == (
        "lost parcel (held: over the per-adjustment limit of 1000 points (2000 asked))"
    )


# --- deciding requests --------------------------------------------------------------------------


def test_a_supervisor_approves_posting_it_in_their_name_with_both_names_kept(
    member, agent, supervisor
):
    request = _adjust(member, agent, 2000, reason="lost parcel").request

    decided = adjustment_request_approve(
        request=request, actor=Actor.staff(supervisor), note="checked the carrier"
    )

    assert decided.status == AdjustmentRequest.Status.APPROVED
    assert decided.decided_by_id == supervisor.pk
    assert decided.decided_by_label == "super"
    assert decided.requested_by_label == "agent"
    assert decided.decision_note == "checked the carrier"
    posting = decided.posting
    assert posting.points == 2000
    assert posting.kind == PostingKind.ADJUST
    assert posting.actor_user_id == supervisor.pk
    assert posting.reason == f"lost parcel [request #{request.pk} by agent]"
    assert _available(member) == 2000
    assert AuditEntry.objects.filter(action="adjustment.approve", member=member).count() == 1


def test_an_approved_posting_does_not_count_against_the_requesters_daily_limit(
    member, agent, supervisor
):
    request = _adjust(member, agent, 2000).request
    adjustment_request_approve(request=request, actor=Actor.staff(supervisor))

    assert adjusted_today(user_id=agent.pk) == 0
    assert _adjust(member, agent, 1000).posted


def test_the_requester_cannot_decide_their_own_request(member, agent):
    # given an agent who (unusually) also holds the approve permission
    agent.user_permissions.add(Permission.objects.get(codename="approve_adjustment"))
    request = _adjust(member, agent, 2000).request

    with pytest.raises(ServiceError) as approving:
        adjustment_request_approve(request=request, actor=Actor.staff(agent))
    with pytest.raises(ServiceError) as rejecting:
        adjustment_request_reject(request=request, actor=Actor.staff(agent), note="oops")

    assert approving.value.code == "permission_denied"
    assert rejecting.value.code == "permission_denied"
    request.refresh_from_db()
    assert request.status == AdjustmentRequest.Status.PENDING
    assert _available(member) == 0


def test_customer_service_cannot_decide_requests(member, agent):
    request = _adjust(member, agent, 2000).request
    colleague = staff_user(CUSTOMER_SERVICE, "colleague")

    with pytest.raises(ServiceError) as exc:
        adjustment_request_approve(request=request, actor=Actor.staff(colleague))

    assert exc.value.code == "permission_denied"


def test_a_rejection_needs_a_note_and_posts_nothing(member, agent, supervisor):
    request = _adjust(member, agent, 2000).request

    with pytest.raises(ServiceError) as no_note:
        adjustment_request_reject(request=request, actor=Actor.staff(supervisor), note=" ")
    decided = adjustment_request_reject(
        request=request, actor=Actor.staff(supervisor), note="no order found"
    )

    assert no_note.value.code == "validation_error"
    assert decided.status == AdjustmentRequest.Status.REJECTED
    assert decided.posting is None
    assert decided.decision_note == "no order found"
    assert Posting.objects.count() == 0
    assert AuditEntry.objects.filter(action="adjustment.reject").count() == 1


def test_a_request_is_decided_once(member, agent, supervisor):
    request = _adjust(member, agent, 2000).request
    adjustment_request_approve(request=request, actor=Actor.staff(supervisor))

    with pytest.raises(ServiceError) as again:
        adjustment_request_approve(request=request, actor=Actor.staff(supervisor))
    with pytest.raises(ServiceError) as reject:
        adjustment_request_reject(request=request, actor=Actor.staff(supervisor), note="x")

    assert again.value.code == "request_decided"
    assert reject.value.code == "request_decided"
    assert _available(member) == 2000


def test_approving_a_debit_the_balance_no_longer_covers_leaves_it_pending(
    member, agent, supervisor, system_actor
):
    _give(member, 3000, system_actor)
    request = _adjust(member, agent, -2500).request
    adjustment_request(member=member, points=-1000, reason="spent", actor=Actor.staff(supervisor))

    with pytest.raises(ServiceError) as exc:
        adjustment_request_approve(request=request, actor=Actor.staff(supervisor))

    assert exc.value.code == "insufficient_points"
    request.refresh_from_db()
    assert request.status == AdjustmentRequest.Status.PENDING
    assert _available(member) == 2000


def test_the_database_refuses_a_self_approved_request(member, agent, supervisor):
    request = _adjust(member, agent, 2000).request

    with pytest.raises(IntegrityError), transaction.atomic():
        AdjustmentRequest.objects.filter(pk=request.pk).update(
            status="rejected",
            decided_by=agent,
            decided_by_label="agent",
            decided_at=timezone.now(),
        )


def test_the_database_refuses_an_approved_request_without_its_posting(member, agent, supervisor):
    request = _adjust(member, agent, 2000).request

    with pytest.raises(IntegrityError), transaction.atomic():
        AdjustmentRequest.objects.filter(pk=request.pk).update(
            status="approved",
            decided_by=supervisor,
            decided_by_label="super",
            decided_at=timezone.now(),
        )


# --- the daily limit under concurrency (PostgreSQL, real threads) --------------------------------


def _run_at_once(count: int, work) -> list:
    """Run `work(i)` in `count` threads released together; return results (or exceptions)."""
    barrier = threading.Barrier(count)
    results: list = [None] * count

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=10)
            results[i] = work(i)
        except Exception as exc:
            results[i] = exc
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("role_groups")
def test_one_agent_in_two_sessions_past_the_daily_limit_exactly_one_posts(make_member):
    # given an agent with 400 already adjusted today (limit 1000) and two members
    agent = staff_user(CUSTOMER_SERVICE, "agent")
    first, second = make_member(), make_member()
    assert _adjust(first, agent, 400).posted

    # when the agent adjusts 500 for each member from two sessions at the same moment
    outcomes = _run_at_once(2, lambda i: _adjust((first, second)[i], agent, 500))

    # then exactly one posts; the other waits as a request (400 + 500 + 500 > 1000)
    assert [type(o).__name__ for o in outcomes] == ["AdjustmentOutcome"] * 2
    assert sorted(o.posted for o in outcomes) == [False, True]
    held = next(o.request for o in outcomes if not o.posted)
    assert held.held_because == (
        "over the daily limit of 1000 points (900 already adjusted today, 500 asked)"
    )
    assert adjusted_today(user_id=agent.pk) == 900


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("role_groups")
def test_many_parallel_adjustments_by_one_agent_never_pass_the_daily_limit(make_member):
    agent = staff_user(CUSTOMER_SERVICE, "agent")
    members = [make_member() for _ in range(8)]

    outcomes = _run_at_once(8, lambda i: _adjust(members[i], agent, 300))

    assert all(not isinstance(o, Exception) for o in outcomes), outcomes
    assert sum(o.posted for o in outcomes) == 3  # 3 × 300 = 900 ≤ 1000 < 4 × 300
    assert AdjustmentRequest.objects.filter(status="pending").count() == 5
    assert adjusted_today(user_id=agent.pk) == 900


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("role_groups")
def test_two_supervisors_approving_one_request_at_once_post_it_once(make_member):
    agent = staff_user(CUSTOMER_SERVICE, "agent")
    supervisors = [staff_user(SUPERVISOR, f"super{i}") for i in range(2)]
    member = make_member()
    request = _adjust(member, agent, 2000).request

    outcomes = _run_at_once(
        2,
        lambda i: adjustment_request_approve(request=request, actor=Actor.staff(supervisors[i])),
    )

    errors = [o for o in outcomes if isinstance(o, ServiceError)]
    assert [e.code for e in errors] == ["request_decided"]
    assert Posting.objects.filter(kind=PostingKind.ADJUST, member=member).count() == 1
    assert _available(member) == 2000
