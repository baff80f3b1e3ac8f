"""Member feedback: `POST /api/v1/members/{id}/feedback`, its reward, rules and admin list."""

from __future__ import annotations

from http import HTTPStatus

import pytest

from campaigns.models import CampaignAward
from config.errors import ServiceError
from feedback.models import Feedback
from loyalty.models import Account
from tests.campaigns.factories import make_campaign
from tests.loyalty.conftest import T0

URL = "/api/v1/members/C-1001/feedback"


def _post(client, body, key="fb-1", url=URL):
    return client.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY=key)


def _available(member) -> int:
    return Account.objects.get(member=member).available


def test_feedback_is_recorded_with_its_order(api_client, member, record_order):
    record_order(member, "O-7", "40.00", placed_at=T0)

    response = _post(
        api_client,
        {
            "score": 9,
            "scale": "nps",
            "comment": "Quick delivery",
            "order_id": "O-7",
            "channel": "app",
        },
    )

    assert response.status_code == HTTPStatus.CREATED
    feedback = Feedback.objects.get()
    assert response.json() == {
        "id": feedback.pk,
        "scale": "nps",
        "score": 9,
        "band": "promoter",
        "created_at": response.json()["created_at"],
        "points_awarded": 0,
        "awards": [],
    }
    assert (
        feedback.member_id,
        feedback.comment,
        feedback.order.order_id,
        feedback.channel,
        feedback.actor_kind,
    ) == (member.pk, "Quick delivery", "O-7", "app", "api")


@pytest.mark.parametrize(
    ("score", "band"), [(0, "detractor"), (6, "detractor"), (7, "passive"), (10, "promoter")]
)
def test_a_feedback_campaign_rewards_every_score_alike(api_client, member, score, band):
    make_campaign("thanks", "action", action="feedback", points=20)

    response = _post(api_client, {"score": score})

    body = response.json()
    assert (body["band"], body["points_awarded"], body["awards"]) == (
        band,
        20,
        [{"campaign": "thanks", "points": 20}],
    )
    assert _available(member) == 20


def test_csat_has_no_band_and_a_retry_records_and_rewards_once(api_client, member):
    make_campaign("thanks", "action", action="feedback", points=20)

    first = _post(api_client, {"score": 4, "scale": "csat"})
    again = _post(api_client, {"score": 4, "scale": "csat"})

    assert (first.status_code, again.status_code) == (HTTPStatus.CREATED, HTTPStatus.CREATED)
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert first.json()["band"] is None
    assert (Feedback.objects.count(), CampaignAward.objects.count(), _available(member)) == (
        1,
        1,
        20,
    )


@pytest.mark.parametrize(
    ("body", "status", "code", "field"),
    [
        ({"score": 11}, 400, "validation_error", "score"),
        ({"score": 0, "scale": "csat"}, 400, "validation_error", "score"),
        ({"score": 6, "scale": "csat"}, 400, "validation_error", "score"),
        ({"score": "9"}, 400, "validation_error", "score"),
        ({"score": 9.0}, 400, "validation_error", "score"),
        ({"score": 9, "scale": "stars"}, 400, "validation_error", "scale"),
        ({"score": 9, "mood": "happy"}, 400, "validation_error", "mood"),
        ({"score": 9, "order_id": "NOPE"}, 404, "order_not_found", None),
        ({"score": 9, "order_id": "THEIRS"}, 404, "order_not_found", None),
    ],
)
def test_bad_feedback_is_refused_and_nothing_is_written(
    api_client, member, make_member, record_order, body, status, code, field
):
    record_order(make_member(external_id="C-2"), "THEIRS", "10.00", placed_at=T0)

    response = _post(api_client, body)

    assert (response.status_code, response.json()["code"]) == (status, code)
    if field:
        assert response.json()["errors"][0]["field"] == field
    assert Feedback.objects.count() == 0


def test_feedback_for_an_unknown_or_erased_member(api_client, member, system_actor):
    from members.services import member_erase

    unknown = _post(api_client, {"score": 9}, url="/api/v1/members/NOPE/feedback")
    member_erase(member=member, actor=system_actor)
    erased = _post(api_client, {"score": 9}, key="fb-2")

    assert (unknown.status_code, unknown.json()["code"]) == (404, "member_not_found")
    assert (erased.status_code, erased.json()["code"]) == (410, "member_erased")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"action": "feedback", "action_code": "nine_or_ten"}, "takes no code"),
        ({"action": "custom", "action_code": "five_star_review"}, "may not depend on the rating"),
        ({"action": "custom", "action_code": "positive-feedback"}, "may not depend on the rating"),
    ],
)
def test_a_reward_that_depends_on_sentiment_is_refused(db, fields, message):
    with pytest.raises(ServiceError) as refused:
        make_campaign("good-only", "action", points=50, **fields)

    assert (refused.value.code, refused.value.errors[0]["field"]) == (
        "validation_error",
        "action_code",
    )
    assert message in refused.value.message


def test_the_admin_lists_feedback_by_band_and_finds_a_member(
    admin_client, api_client, member, make_member
):
    make_member(external_id="C-2")
    _post(api_client, {"score": 3, "comment": "Late"}, key="a")
    _post(api_client, {"score": 10}, key="b")
    _post(api_client, {"score": 9}, key="c", url="/api/v1/members/C-2/feedback")

    detractors = admin_client.get("/admin/feedback/feedback/", {"band": "detractor"})
    found = admin_client.get("/admin/feedback/feedback/", {"q": "C-2"})

    assert detractors.status_code == HTTPStatus.OK
    assert [f.score for f in detractors.context["cl"].result_list] == [3]
    assert [f.member.external_id for f in found.context["cl"].result_list] == ["C-2"]


def test_an_erasure_blanks_the_comment_and_keeps_the_score(api_client, member):
    _post(api_client, {"score": 2, "comment": "Ada Lovelace, 07700 900123: never again"})

    response = api_client.delete("/api/v1/members/C-1001")

    assert response.status_code == HTTPStatus.NO_CONTENT
    assert list(Feedback.objects.values_list("member_id", "score", "comment")) == [
        (member.pk, 2, "")
    ]
