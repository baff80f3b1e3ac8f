"""Birthday (promotional: consent and the cap), coupon expiring, redemption receipt."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core import mail
from django.utils import timezone

from campaigns.services.calendar import calendar_awards
from messaging.models import MessageLog
from messaging.services import message_request
from rewards.services import reward_create
from rewards.services.redemptions import redemption_create
from tests.campaigns.factories import make_campaign

pytestmark = pytest.mark.django_db
BIRTHDAY = dt.date(1990, 3, 14)
AS_OF = dt.date(2026, 3, 14)


def test_birthday_needs_consent(make_member, daily):
    yes = make_member(first_name="Yes", birth_date=BIRTHDAY, marketing_consent=True)
    make_member(first_name="No", birth_date=BIRTHDAY, marketing_consent=False)
    make_member(first_name="Other", birth_date=dt.date(1990, 3, 15), marketing_consent=True)

    assert daily(AS_OF) == 1

    assert [e.to for e in mail.outbox] == [[yes.email]]
    email = mail.outbox[0]
    assert email.subject == "Happy birthday from Loyalty Club"
    assert email.body.split("\n\n")[:2] == [
        "Hello Yes,",
        "Happy birthday from all of us at Loyalty Club!",
    ]
    assert MessageLog.objects.get().subject_key == "2026"


def test_birthday_with_the_campaigns_gift_in_chinese(make_member, daily, system_actor):
    member = make_member(
        first_name="小红", birth_date=BIRTHDAY, marketing_consent=True, locale="zh-hans"
    )
    from django.db import transaction

    from loyalty.services.ledger import account_open

    with transaction.atomic():
        account_open(member_id=member.pk)
    make_campaign("BDAY", "action", action="birthday", points=200)
    calendar_awards(
        as_of=AS_OF, cutoff=timezone.make_aware(dt.datetime(2026, 3, 14, 3, 30)), actor=system_actor
    )

    daily(AS_OF)

    email = mail.outbox[0]
    assert email.subject == "Loyalty Club祝您生日快乐"
    assert email.body.split("\n\n")[1] == (
        "Loyalty Club全体同仁祝您生日快乐！我们已向您的账户赠送 200 积分作为生日礼物。"
    )


def test_promotional_messages_are_capped(make_member, daily, settings):
    member = make_member(birth_date=BIRTHDAY, marketing_consent=True)
    assert daily(AS_OF) == 1

    # another promotional message within the cap's 7 days: not requested
    assert message_request(kind="birthday", member_id=member.pk, subject_key="again") == 0
    settings.MESSAGING_PROMO_CAP_DAYS = 0
    assert message_request(kind="birthday", member_id=member.pk, subject_key="again") == 1


@pytest.fixture
def redeemed(member, system_actor, award):
    award(member, 1000, now=timezone.now() - dt.timedelta(days=1))
    reward_create(
        code="FIVE",
        name="Five off",
        kind="fixed_discount",
        points_cost=100,
        value=Decimal("5.00"),
        stock=5,
        coupon_valid_days=30,
        actor=system_actor,
    )
    return redemption_create(member=member, reward_code="FIVE", actor=system_actor).redemption


def test_redemption_receipt_once(redeemed, daily):
    today = timezone.localdate()

    assert daily(today) == 1
    assert daily(today) == 0

    email = mail.outbox[0]
    code = redeemed.coupon_code
    expiry = timezone.localdate(redeemed.expires_at)
    assert email.subject == "Your Five off is ready"
    assert email.body.split("\n\n")[1] == (
        f"You spent 100 points on Five off. Your coupon code is {code}, valid until "
        f"{expiry.day} {expiry:%b %Y}."
    )
    log = MessageLog.objects.get(kind="redemption_receipt")
    assert code not in log.subject
    assert code not in str(log.params)


def test_coupon_expiring_7_days_before(redeemed, daily):
    expiry = timezone.localdate(redeemed.expires_at)

    daily(expiry - dt.timedelta(days=7))

    log = MessageLog.objects.get(kind="coupon_expiring")
    assert log.subject_key == str(redeemed.pk)
    email = next(e for e in mail.outbox if "expires" in e.subject)
    assert email.subject == f"Your Five off coupon expires on {expiry.day} {expiry:%b %Y}"
