import datetime as dt
from http import HTTPStatus

import pytest

from campaigns.models import Campaign, CampaignAward
from campaigns.services.actions import activity_record
from config.errors import ServiceError
from loyalty.models import Account, Posting
from loyalty.services.enrolment import program_member_enrol
from loyalty.services.jobs import daily_jobs_run
from members.services import member_erase
from tests.campaigns.factories import make_campaign


def available(member):
    return Account.objects.get(member=member).available


def test_a_review_earns_the_action_bonus_once_per_review(member, system_actor):
    make_campaign("review", "action", action="review", points=50)

    first = activity_record(member=member, type="review", reference="R-1", actor=system_actor)
    again = activity_record(member=member, type="review", reference="R-1", actor=system_actor)
    other = activity_record(member=member, type="review", reference="R-2", actor=system_actor)

    assert (first.points_awarded, first.awards) == (50, [("review", 50)])
    assert (again.points_awarded, again.reason) == (0, "limit_reached")
    assert other.points_awarded == 50
    assert available(member) == 100


def test_no_matching_campaign_says_so(member, system_actor):
    result = activity_record(member=member, type="review", reference="R-1", actor=system_actor)

    assert (result.points_awarded, result.awards, result.reason) == (0, [], "no_campaign")


def test_a_custom_action_code_matches_its_campaign(member, system_actor):
    make_campaign("quiz", "action", action="custom", action_code="style-quiz", points=30)

    result = activity_record(member=member, type="style-quiz", reference="Q1", actor=system_actor)

    assert result.awards == [("quiz", 30)]


def test_the_budget_exhausted_reason(make_member, system_actor):
    make_campaign("follow", "action", action="social_follow", points=40, budget_points=40)
    a, b = make_member(), make_member()

    activity_record(member=a, type="social_follow", reference="ig", actor=system_actor)
    result = activity_record(member=b, type="social_follow", reference="ig", actor=system_actor)

    assert (result.points_awarded, result.reason) == (0, "budget_exhausted")


def test_program_actions_cannot_be_reported_by_the_storefront(member, system_actor):
    with pytest.raises(ServiceError) as excinfo:
        activity_record(member=member, type="birthday", reference="x", actor=system_actor)
    assert excinfo.value.code == "validation_error"


def test_tier_targeting_skips_members_of_other_tiers(member, system_actor):
    from loyalty.models import Tier

    Tier.objects.create(code="member", name="Member", rank=0, threshold=0)
    gold = Tier.objects.create(code="gold", name="Gold", rank=2, threshold=500)
    make_campaign("gold-reviews", "action", action="review", points=80, tiers=[gold])

    result = activity_record(member=member, type="review", reference="R-1", actor=system_actor)

    assert (result.points_awarded, result.reason) == (0, "no_campaign")


def test_sign_up_bonus_on_storefront_enrolment(db, system_actor):
    make_campaign("welcome", "action", action="signup", points=100)

    member = program_member_enrol(external_id="C-9", email="new@example.com", actor=system_actor)

    assert available(member) == 100
    assert Posting.objects.get(member=member).campaign_code == "welcome"


def test_the_birthday_bonus_is_awarded_once_a_year_however_often_the_job_runs(
    make_member, system_actor
):
    make_campaign("birthday", "action", action="birthday", points=200)
    member = make_member(birth_date=dt.date(1990, 3, 7))
    make_member(birth_date=dt.date(1990, 3, 8))

    first = daily_jobs_run(as_of=dt.date(2026, 3, 7))
    second = daily_jobs_run(as_of=dt.date(2026, 3, 7))
    next_year = daily_jobs_run(as_of=dt.date(2027, 3, 7))

    assert first.steps["birthdays_anniversaries"] == 1
    assert second.steps["birthdays_anniversaries"] == 0
    assert next_year.steps["birthdays_anniversaries"] == 1
    assert sorted(CampaignAward.objects.values_list("member_id", "reference")) == [
        (member.pk, "birthday:2026"),
        (member.pk, "birthday:2027"),
    ]


def test_a_29_february_birthday_is_celebrated_on_28_february_in_other_years(make_member):
    make_campaign("birthday", "action", action="birthday", points=200)
    leapling = make_member(birth_date=dt.date(2000, 2, 29))

    daily_jobs_run(as_of=dt.date(2027, 2, 28))

    assert CampaignAward.objects.get().member_id == leapling.pk


def test_the_anniversary_bonus_skips_the_enrolment_year_and_erased_members(make_member):
    make_campaign("anniversary", "action", action="anniversary", points=300)
    enrolled = dt.datetime(2025, 6, 1, 12, 0, tzinfo=dt.UTC)
    loyal = make_member(enrolled_at=enrolled)
    gone = make_member(enrolled_at=enrolled)
    member_erase(member=gone, actor=__import__("members.actors").actors.Actor.system("t"))

    daily_jobs_run(as_of=dt.date(2025, 6, 1))
    daily_jobs_run(as_of=dt.date(2026, 6, 1))

    assert list(CampaignAward.objects.values_list("member_id", "reference")) == [
        (loyal.pk, "anniversary:2026")
    ]


def test_activities_endpoint_awards_and_replays(api_client, member):
    make_campaign("review", "action", action="review", points=50)
    url = f"/api/v1/members/{member.external_id}/activities"
    body = {"type": "review", "reference": "R-1"}

    first = api_client.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    replay = api_client.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    nothing = api_client.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="k2")

    assert first.status_code == HTTPStatus.CREATED
    assert first.json() == {"points_awarded": 50, "awards": [{"campaign": "review", "points": 50}]}
    assert (replay.status_code, replay.json(), replay["Idempotent-Replayed"]) == (
        HTTPStatus.CREATED,
        first.json(),
        "true",
    )
    assert nothing.status_code == HTTPStatus.OK
    assert nothing.json() == {"points_awarded": 0, "awards": [], "reason": "limit_reached"}


def test_activities_endpoint_errors(api_client, member):
    url = f"/api/v1/members/{member.external_id}/activities"

    unknown = api_client.post(
        "/api/v1/members/NOPE/activities",
        {"type": "review", "reference": "R"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="a",
    )
    extra = api_client.post(
        url,
        {"type": "review", "reference": "R", "points": 5},
        format="json",
        HTTP_IDEMPOTENCY_KEY="b",
    )
    no_key = api_client.post(url, {"type": "review", "reference": "R"}, format="json")

    assert (unknown.status_code, unknown.json()["code"]) == (404, "member_not_found")
    assert (extra.status_code, extra.json()["code"]) == (400, "validation_error")
    assert extra.json()["errors"][0]["field"] == "points"
    assert (no_key.status_code, no_key.json()["code"]) == (400, "validation_error")
    assert Campaign.objects.count() == 0


def test_storefront_enrolment_through_the_api_gets_the_sign_up_bonus(api_client, db):
    make_campaign("welcome", "action", action="signup", points=100)

    response = api_client.put("/api/v1/members/C-77", {"email": "new@example.com"}, format="json")

    assert response.status_code == HTTPStatus.CREATED
    assert response.json()["points"]["available"] == 100
