"""One object of every kind the admin shows, built through the services (for the admin matrix).

`admin_world()` returns {model label: object}; `tests/hardening/test_admin_matrix.py` fails when a
registered admin has no object here, so a new admin gets a row and an object, not a silent skip.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from decimal import Decimal
from pathlib import Path

from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib.auth.models import Group, User
from django.db import connection, transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from procrastinate.contrib.django.models import ProcrastinateJob
from rest_framework_api_key.models import APIKey

from campaigns.models import Campaign, CampaignAward, CampaignHoldout, Referral
from campaigns.services.awards import holdout_record
from feedback.models import Feedback
from feedback.services import feedback_record
from jobs.api import defer
from loyalty.admin.imports import uploads_dir
from loyalty.demo import demo_tiers_ensure
from loyalty.importing.pipeline import import_orders
from loyalty.importing.profiles import import_profile_save
from loyalty.models import (
    Account,
    AdjustmentRequest,
    Debt,
    ExchangeRate,
    ImportProfile,
    ImportRun,
    Lot,
    MemberTier,
    Order,
    Perk,
    Posting,
    ProgramSettings,
    Refund,
    Tier,
    TierChange,
)
from loyalty.selectors.program import program_settings
from loyalty.services.adjustments import adjustment_request
from loyalty.services.enrolment import program_member_enrol
from loyalty.services.orders import order_record, refund_record
from loyalty.services.points import points_spend
from loyalty.services.program import exchange_rate_set
from loyalty.tasks import daily_jobs
from members.actors import Actor
from members.models import AuditEntry, Member
from members.roles import CUSTOMER_SERVICE
from memberships.models import Membership, Plan
from memberships.services import membership_start, plan_save
from messaging.models import KindSetting, MessageLog, MessageTemplate, OptOut, Suppression
from messaging.services import message_request, opt_out_record, suppression_record
from rewards.models import PerkGift, Redemption, Reward, StockMovement
from rewards.services import reward_create
from rewards.services.perk_gifts import perk_gift_save
from rewards.services.redemptions import redemption_create
from segments.models import Club, ClubMembership, Segment, SegmentAward
from segments.services.clubs import club_join, club_save
from segments.services.segments import segment_award_points, segment_save
from tests.campaigns.factories import make_campaign
from webhooks.models import Delivery, Endpoint
from webhooks.services import endpoint_create, endpoint_send_test

ENROLLED = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


def admin_world() -> dict[str, object]:
    """Every model the admin registers, one object each (what it needs built first)."""
    system = Actor.system("tests")
    now = timezone.now()
    demo_tiers_ensure(actor=system)
    program_settings()
    make_campaign("REFER", "referral", referee_points=10, referrer_points=20)
    holding = make_campaign("HOLD", "action", action="review", points=5, holdout_percent=10)
    referrer = program_member_enrol(
        external_id="W-1",
        email="w1@example.com",
        last_name="Lovelace",
        enrolled_at=ENROLLED,
        actor=system,
    )
    friend = program_member_enrol(
        external_id="W-2",
        email="w2@example.com",
        referral_code=referrer.referral_code,
        enrolled_at=ENROLLED,
        actor=system,
    )
    # An order past its pending days (available points), one that upgrades the tier, a refund.
    order_record(
        order_id="W-O-1",
        member=referrer,
        placed_at=now - dt.timedelta(days=40),
        currency="GBP",
        total=Decimal("1200.00"),
        actor=system,
        now=now,
    )
    order_record(
        order_id="W-O-2",
        member=friend,
        placed_at=now - dt.timedelta(days=40),
        currency="GBP",
        total=Decimal("100.00"),
        actor=system,
        now=now,
    )
    refund_record(order_id="W-O-1", refund_id="W-R-1", amount=Decimal("10.00"), actor=system)
    # The holdout log's row, as a held-out member's first review writes it.
    with transaction.atomic():
        holdout_record(
            campaign=holding, member_id=referrer.pk, reference="review:W", points=5, now=now
        )
    # A debt: the friend spends what a refund then takes back.
    with transaction.atomic():
        points_spend(member=friend, points=100, actor=system, idempotency_key="w-spend")
    refund_record(order_id="W-O-2", refund_id="W-R-2", amount=Decimal("100.00"), actor=system)
    reward = reward_create(
        code="W_FIVE",
        name="Five off",
        kind="fixed_discount",
        points_cost=100,
        value=Decimal("5.00"),
        stock=5,
        actor=system,
    )
    redemption_create(member=referrer, reward_code=reward.code, actor=system)
    perk_gift_save(actor=system, perk=Perk.objects.get(code="birthday_gift"), reward=reward)
    exchange_rate_set(currency="EUR", rate=Decimal("0.85"), actor=system)
    agent = User.objects.create_user(username="w-agent", password="x", is_staff=True)
    agent.groups.add(Group.objects.get(name=CUSTOMER_SERVICE))
    agent = User.objects.get(pk=agent.pk)
    adjustment_request(member=referrer, points=100_000, reason="goodwill", actor=Actor.staff(agent))
    # A club with a member, a segment of it and a bulk award to it (held: beyond the limits).
    club = club_save(club=Club(code="w-parents", name="Parents"), actor=system)
    club_join(member=referrer, club=club, actor=system)
    segment = segment_save(
        segment=Segment(
            code="w-parents",
            name="Parents",
            conditions={"all": [{"field": "club", "op": "in", "value": ["w-parents"]}]},
        ),
        actor=system,
    )
    segment_award_points(
        segment=segment, points=50_000, reason="w-award", key="w-award", actor=Actor.staff(agent)
    )
    import_profile_save(
        actor=system,
        name="w-profile",
        layout="orders",
        col_order_id="id",
        col_customer_id="customer",
        col_placed_at="date",
        col_total="total",
        fixed_currency="GBP",
    )
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "w.csv"
        path.write_text(
            "order_id,customer_id,email,placed_at,total,currency\n"
            f"W-I-1,W-9,,{(now - dt.timedelta(days=3)).isoformat()},5.00,GBP\n"
            f"W-I-2,W-9,,{(now - dt.timedelta(days=3)).isoformat()},5.001,GBP\n"
        )
        # A partial run whose error report is where the admin keeps them (its errors page
        # serves only those); the caller points `IMPORT_UPLOAD_DIR` at a temporary folder.
        import_orders(
            path=path, actor=system, skip_invalid=True, errors_path=uploads_dir() / "w-errors.csv"
        )
    feedback_record(member=referrer, scale="nps", score=9, comment="Great", actor=system)
    plan_save(
        actor=system,
        code="w-plus",
        name="Plus",
        price=Decimal("9.99"),
        currency="GBP",
        period_months=1,
        perks=list(Perk.objects.order_by("pk")[:1]),
    )
    membership_start(member=referrer, plan_code="w-plus", payment_reference="w-pay", actor=system)
    APIKey.objects.create_key(name="w-storefront")
    # A webhook endpoint on a closed local port and a test delivery to it (queued: the job runs
    # after a commit that a test never makes, so nothing is sent).
    endpoint, _ = endpoint_create(url="http://127.0.0.1:9/hook", actor=system)
    endpoint_send_test(endpoint=endpoint, actor=system)
    # A member message (queued: its send job runs after a commit a test never makes), an
    # opt-out and a suppressed address; the templates and kind settings exist after migrate.
    message_request(kind="welcome", member_id=referrer.pk, subject_key="enrolled")
    opt_out_record(member_id=referrer.pk, kind="points_expiring", actor=system)
    suppression_record(address="bounced@example.com", reason="bounced")
    _admin_logins(agent.username)
    if connection.vendor == "postgresql":  # the job queue (its admin is PostgreSQL's only)
        with transaction.atomic():
            defer(daily_jobs, timestamp=0)
    first = {
        model: model.objects.order_by("pk").first()
        for model in (
            Group,
            User,
            APIKey,
            AuditEntry,
            AdjustmentRequest,
            ImportRun,
            ImportProfile,
            Posting,
            Lot,
            Debt,
            Account,
            Order,
            Refund,
            Member,
            ProgramSettings,
            ExchangeRate,
            Perk,
            Tier,
            MemberTier,
            TierChange,
            Reward,
            StockMovement,
            Redemption,
            PerkGift,
            Campaign,
            CampaignAward,
            CampaignHoldout,
            Referral,
            Feedback,
            Plan,
            Membership,
            MessageTemplate,
            KindSetting,
            MessageLog,
            OptOut,
            Suppression,
            Segment,
            SegmentAward,
            Club,
            ClubMembership,
            Endpoint,
            Delivery,
            AccessAttempt,
            AccessLog,
            AccessFailureLog,
            # the job queue's table is PostgreSQL's only
            *((ProcrastinateJob,) if connection.vendor == "postgresql" else ()),
        )
    }
    return {model._meta.label: obj for model, obj in first.items() if obj is not None}


def _admin_logins(username: str) -> None:
    """The login lockout's records, made by the admin's login page itself: a login (the access
    log), then a wrong password (an attempt and the failure log). In that order: a successful
    login clears the user's attempts."""
    login = reverse("admin:login")
    Client().post(login, {"username": username, "password": "x"})
    Client().post(login, {"username": username, "password": "wrong"})
