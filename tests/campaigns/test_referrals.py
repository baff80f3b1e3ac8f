import datetime as dt

from campaigns.models import CampaignAward, Referral
from campaigns.services.referrals import email_identity, is_self_referral
from loyalty.models import Account
from loyalty.services.enrolment import program_member_enrol
from loyalty.services.jobs import daily_jobs_run
from tests.campaigns.factories import make_campaign
from tests.conftest import ENROLLED_AT
from tests.loyalty.conftest import T0


def available(member):
    account = Account.objects.filter(member=member).first()
    return account.available if account else 0


def enrol(n, referrer=None, actor=None, **fields):
    from members.actors import Actor

    fields.setdefault("email", f"friend{n}@example.com")
    fields.setdefault("enrolled_at", ENROLLED_AT)  # before the tests' orders
    return program_member_enrol(
        external_id=f"F-{n}",
        referral_code=referrer.referral_code if referrer else None,
        actor=actor or Actor.system("tests"),
        **fields,
    )


def test_give_x_on_first_order_get_y_once_it_is_no_longer_pending(member, record_order):
    make_campaign("refer", "referral", referee_points=250, referrer_points=500)
    friend = enrol(1, member)

    record_order(friend, "O-1", "40.00", placed_at=T0)
    assert (available(friend), available(member)) == (250, 0)

    daily_jobs_run(as_of=(T0 + dt.timedelta(days=13)).date())
    assert available(member) == 0  # the friend's order is still in its return window

    daily_jobs_run(as_of=(T0 + dt.timedelta(days=14)).date())
    daily_jobs_run(as_of=(T0 + dt.timedelta(days=15)).date())
    assert available(member) == 500
    assert Referral.objects.get().status == "rewarded"
    assert CampaignAward.objects.filter(member=member).count() == 1


def test_x_on_sign_up_when_the_campaign_says_so(member):
    make_campaign(
        "refer", "referral", referee_points=100, referee_trigger="signup", referrer_points=200
    )

    friend = enrol(1, member)

    assert available(friend) == 100


def test_a_fully_refunded_first_order_earns_the_referrer_nothing(
    member, record_order, record_refund
):
    make_campaign("refer", "referral", referee_points=0, referrer_points=500)
    friend = enrol(1, member)
    record_order(friend, "O-1", "40.00", placed_at=T0)
    record_refund("O-1", "R-1", "40.00", now=T0 + dt.timedelta(days=2))

    daily_jobs_run(as_of=(T0 + dt.timedelta(days=20)).date())

    assert available(member) == 0
    assert (Referral.objects.get().status, Referral.objects.get().reason) == (
        "rejected",
        "first order refunded in full",
    )


def test_self_referral_by_the_same_mailbox_or_phone_is_rejected(make_member):
    make_campaign(
        "refer", "referral", referee_points=100, referee_trigger="signup", referrer_points=200
    )
    referrer = make_member(email="ada.lovelace+shop@gmail.com", phone="+44 7700 900123")

    same_mailbox = enrol(1, referrer, email="adalovelace@gmail.com")
    same_phone = enrol(2, referrer, phone="07700 900123")

    assert [r.status for r in Referral.objects.order_by("pk")] == ["rejected", "rejected"]
    assert (available(same_mailbox), available(same_phone)) == (0, 0)


def test_identity_normalisation():
    assert email_identity("Ada.Lovelace+x@Example.com") == "adalovelace@example.com"


def test_is_self_referral_for_different_people(make_member):
    a = make_member(email="a@example.com", phone="01234 567890")
    b = make_member(email="b@example.com", phone="09876 543210")
    assert is_self_referral(a, b) is False


def test_the_monthly_limit_per_referrer(member, record_order):
    make_campaign(
        "refer", "referral", referee_points=0, referrer_points=500, monthly_referral_limit=2
    )
    friends = [enrol(i, member) for i in range(3)]
    for i, friend in enumerate(friends):
        record_order(friend, f"O-{i}", "40.00", placed_at=T0)

    daily_jobs_run(as_of=(T0 + dt.timedelta(days=15)).date())

    assert available(member) == 1000
    assert sorted(Referral.objects.values_list("status", flat=True)) == [
        "rejected",
        "rewarded",
        "rewarded",
    ]


def test_a_referred_friends_first_order_through_the_api_pays_the_referee(api_client, member):
    # The storefront's order path writes the common case in one statement that calls no hook; a
    # referred member's order must not take it (the referral listener has work to do).
    make_campaign("refer", "referral", referee_points=250, referrer_points=500)
    friend = enrol(1, member)
    other = enrol(2)
    placed = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)).isoformat()  # points pending
    body = {"placed_at": placed, "currency": "GBP", "total": "40.00"}
    for n, who in enumerate((other, friend, other)):  # the first one fills the caches
        response = api_client.post(
            "/api/v1/orders", {**body, "order_id": f"O-{n}", "member": who.external_id}, "json"
        )
        assert response.status_code == 201, response.content

    assert (available(friend), available(other)) == (250, 0)  # the orders' 40s are pending
    assert Referral.objects.get().first_order.order_id == "O-1"
