"""Each writer of a member or points change writes exactly its event, in the change's own
transaction, with the exact payload; a rolled-back change leaves no event (SQLite and
PostgreSQL: the usual path and the storefront's one-statement earn alike)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import transaction
from django.utils import timezone

from events.models import Event
from loyalty.models import Posting
from loyalty.services.jobs import daily_jobs_run
from loyalty.services.points import points_adjust_post, points_award, posting_reverse
from members import services as member_services
from members.actors import Actor
from members.models import Member
from tests.events.conftest import iso
from tests.loyalty.conftest import T0

pytestmark = pytest.mark.django_db
SYSTEM = Actor.system("tests")
ENROLLED = dt.datetime(2026, 1, 5, 9, 30, tzinfo=dt.UTC)


@pytest.fixture
def ada(db):
    return member_services.member_enrol(
        external_id="C-1", email="ada@example.com", actor=SYSTEM, enrolled_at=ENROLLED
    )


def _earn(points, *, kind="earn", campaign=None, available, expires, order_id=None):
    return {
        "member_external_id": "C-1",
        "points": points,
        "order_id": order_id,
        "credits": [{"kind": kind, "points": points, "campaign_code": campaign}],
        "available_at": iso(available),
        "expires_at": iso(expires),
    }


def test_enrolment_writes_member_enrolled(written, make_member):
    referrer = make_member()
    with written() as got:
        member = member_services.member_enrol(
            external_id="C-9",
            email="c9@example.com",
            actor=SYSTEM,
            enrolled_at=ENROLLED,
            referral_code=referrer.referral_code,
        )

    assert got == [
        (
            "member.enrolled",
            member.pk,
            1,
            {"member_external_id": "C-9", "enrolled_at": "2026-01-05T09:30:00Z", "referred": True},
        )
    ]


def test_an_update_names_the_fields_never_their_values(written, ada):
    with written() as got:
        member_services.member_update(member=ada, actor=SYSTEM, phone="+441234", last_name="L")
        member_services.member_update(member=ada, actor=SYSTEM, phone="+441234")  # no change
        member_services.member_set_status(
            member=ada, status=Member.Status.SUSPENDED, actor=SYSTEM, reason="fraud check"
        )

    assert got == [
        (
            "member.updated",
            ada.pk,
            2,
            {"member_external_id": "C-1", "changed": ["last_name", "phone"]},
        ),
        ("member.updated", ada.pk, 3, {"member_external_id": "C-1", "changed": ["status"]}),
    ]


def test_erasure_writes_member_erased(written, ada):
    with written() as got:
        member_services.member_erase(member=ada, actor=SYSTEM)

    assert [(t, m, s) for t, m, s, _ in got] == [("member.erased", ada.pk, 2)]
    assert set(got[0][3]) == {"member_external_id"}
    assert "ada@example.com" not in str(Event.objects.filter(member_id=ada.pk).values("payload"))


def test_an_order_writes_points_earned_with_its_credits(written, ada, record_order):
    with written() as got:
        record_order(ada, "O-1", "123.45", placed_at=T0, now=T0)

    assert got == [
        (
            "points.earned",
            ada.pk,
            2,
            _earn(
                123,
                order_id="O-1",
                available=T0 + dt.timedelta(days=14),
                expires=T0 + dt.timedelta(days=14 + 365),
            ),
        )
    ]


def test_an_order_that_earns_nothing_writes_no_event(written, ada, record_order):
    with written() as got:
        record_order(ada, "O-1", "0.50", placed_at=T0, now=T0)

    assert got == []


def test_a_refund_writes_points_reversed(written, ada, record_order, record_refund):
    record_order(ada, "O-1", "100.00", placed_at=T0, now=T0)
    with written() as got:
        record_refund("O-1", "R-1", "25.00", now=T0 + dt.timedelta(days=1))

    assert got == [
        (
            "points.reversed",
            ada.pk,
            3,
            {
                "member_external_id": "C-1",
                "points": -25,
                "reason": "refund",
                "order_id": "O-1",
                "refund_id": "R-1",
                "debt": 0,
            },
        )
    ]


def test_a_staff_adjustment_and_its_reversal(written, ada):
    with written() as got:
        posting = points_adjust_post(
            member=ada, points=250, reason="goodwill", actor=SYSTEM, idempotency_key="k-1"
        )
        points_adjust_post(  # a retry: nothing new
            member=ada, points=250, reason="goodwill", actor=SYSTEM, idempotency_key="k-1"
        )
        posting_reverse(posting=posting, reason="mistake", actor=SYSTEM)

    assert got == [
        (
            "points.adjusted",
            ada.pk,
            2,
            {"member_external_id": "C-1", "points": 250, "adjustment_id": None},
        ),
        (
            "points.reversed",
            ada.pk,
            3,
            {
                "member_external_id": "C-1",
                "points": -250,
                "reason": "reversal",
                "order_id": None,
                "refund_id": None,
                "debt": 0,
            },
        ),
    ]


def test_a_campaign_award_writes_points_earned(written, ada):
    now = timezone.now()
    with written() as got, transaction.atomic():
        points_award(
            member=ada,
            points=50,
            campaign_code="BDAY",
            idempotency_key="bday",
            actor=SYSTEM,
            now=now,
        )

    assert got == [
        (
            "points.earned",
            ada.pk,
            2,
            _earn(
                50,
                kind="campaign_bonus",
                campaign="BDAY",
                available=now,
                expires=now + dt.timedelta(days=365),
            ),
        )
    ]


def test_expiry_writes_points_expired_and_the_notice_comes_first(written, ada, settings):
    settings.POINTS_EXPIRING_NOTICE_DAYS = 3
    given = T0 - dt.timedelta(days=363)  # expires at T0 + 2 days
    points_adjust_post(
        member=ada, points=70, reason="seed", actor=SYSTEM, idempotency_key="seed", now=given
    )
    with written() as notices:
        daily_jobs_run(as_of=T0.date())
        daily_jobs_run(as_of=T0.date())  # a catch-up the same day tells no one twice
    with written() as expiries:
        daily_jobs_run(as_of=(T0 + dt.timedelta(days=2)).date())

    expires_by = iso(T0.date() + dt.timedelta(days=3))
    assert notices == [
        (
            "points.expiring",
            ada.pk,
            3,
            {"member_external_id": "C-1", "points": 70, "expires_by": expires_by, "within_days": 3},
        )
    ]
    assert expiries == [
        ("points.expired", ada.pk, 4, {"member_external_id": "C-1", "points": -70, "lots": 1})
    ]


def test_no_notice_when_the_setting_is_zero(written, ada, settings):
    settings.POINTS_EXPIRING_NOTICE_DAYS = 0
    points_adjust_post(
        member=ada,
        points=70,
        reason="seed",
        actor=SYSTEM,
        idempotency_key="seed",
        now=T0 - dt.timedelta(days=363),
    )
    with written() as got:
        daily_jobs_run(as_of=T0.date())

    assert got == []


@pytest.mark.parametrize(
    "change",
    ["enrol", "update", "erase", "order", "refund", "adjust", "reverse", "award", "expire"],
)
def test_a_rolled_back_change_leaves_no_event(change, ada, record_order, record_refund):
    record_order(ada, "O-1", "100.00", placed_at=T0, now=T0)
    points_adjust_post(
        member=ada,
        points=40,
        reason="seed",
        actor=SYSTEM,
        idempotency_key="seed",
        now=T0 - dt.timedelta(days=400),
    )
    work = {
        "enrol": lambda: member_services.member_enrol(
            external_id="C-2", email="c2@example.com", actor=SYSTEM
        ),
        "update": lambda: member_services.member_update(member=ada, actor=SYSTEM, phone="1"),
        "erase": lambda: member_services.member_erase(member=ada, actor=SYSTEM),
        "order": lambda: record_order(ada, "O-2", "10.00", placed_at=T0, now=T0),
        "refund": lambda: record_refund("O-1", "R-1", "10.00", now=T0),
        "adjust": lambda: points_adjust_post(
            member=ada, points=5, reason="x", actor=SYSTEM, idempotency_key="k"
        ),
        "reverse": lambda: posting_reverse(
            posting=Posting.objects.get(order__order_id="O-1"), reason="x", actor=SYSTEM
        ),
        "award": lambda: points_award(
            member=ada, points=5, campaign_code="X", idempotency_key="x", actor=SYSTEM
        ),
        "expire": lambda: daily_jobs_run(as_of=T0.date()),
    }[change]
    events, postings = Event.objects.count(), Posting.objects.count()
    members = list(Member.objects.values_list("pk", "phone", "status").order_by("pk"))

    seen_inside = []

    def fail_after_the_change() -> None:
        with transaction.atomic():
            work()
            seen_inside.append(Event.objects.count() - events)  # written, in this transaction
            raise RuntimeError("the change fails after its event was written")

    with pytest.raises(RuntimeError):
        fail_after_the_change()

    assert seen_inside[0] >= 1
    assert Event.objects.count() == events
    assert Posting.objects.count() == postings
    assert list(Member.objects.values_list("pk", "phone", "status").order_by("pk")) == members
