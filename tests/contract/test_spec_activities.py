"""Contract: `POST /api/v1/members/{external_id}/activities` (Idempotency-Key) as api.md writes it.

`201 {"points_awarded", "awards": [{"campaign", "points"}]}`; nothing to award is `200` with
`points_awarded: 0` and a `reason` (`no_campaign`, `limit_reached`, `budget_exhausted`).
"""

from __future__ import annotations

from http import HTTPStatus

import pytest

from campaigns.models import CampaignAward
from loyalty.models import Account
from members.services import member_erase
from tests.campaigns.factories import make_campaign
from tests.contract.conftest import assert_int, assert_problem, post_idem

URL = "/api/v1/members/C-1001/activities"


@pytest.mark.parametrize(
    "type_", ["review", "social_follow", "newsletter_signup", "profile_completed"]
)
def test_each_spec_activity_type_earns_201_with_its_awards(api_client, member, type_):
    make_campaign(f"{type_}-bonus", "action", action=type_, points=40)

    response = post_idem(api_client, URL, {"type": type_, "reference": "R-1"})

    assert response.status_code == HTTPStatus.CREATED
    body = response.json()
    assert body == {"points_awarded": 40, "awards": [{"campaign": f"{type_}-bonus", "points": 40}]}
    assert_int(body["points_awarded"])
    assert Account.objects.get(member=member).available == 40


def test_bonuses_of_every_matching_campaign_add_up(api_client, member):
    make_campaign("review-a", "action", action="review", points=50)
    make_campaign("review-b", "action", action="review", points=25)

    body = post_idem(api_client, URL, {"type": "review", "reference": "R-1"}).json()

    assert body["points_awarded"] == 75
    assert sorted(body["awards"], key=lambda a: a["campaign"]) == [
        {"campaign": "review-a", "points": 50},
        {"campaign": "review-b", "points": 25},
    ]


@pytest.mark.parametrize("code", ["style-quiz", "StyleQuiz", "quiz_2026"])
def test_a_custom_action_code_defined_by_a_campaign_is_a_type(api_client, member, code):
    make_campaign("quiz", "action", action="custom", action_code=code, points=30)

    response = post_idem(api_client, URL, {"type": code, "reference": "Q-1"})

    assert response.status_code == HTTPStatus.CREATED
    assert response.json() == {"points_awarded": 30, "awards": [{"campaign": "quiz", "points": 30}]}


def test_nothing_to_award_is_200_no_campaign(api_client, member):
    response = post_idem(api_client, URL, {"type": "review", "reference": "R-1"})

    assert response.status_code == HTTPStatus.OK
    assert response.json() == {"points_awarded": 0, "awards": [], "reason": "no_campaign"}


def test_the_same_reference_again_is_200_limit_reached(api_client, member):
    make_campaign("review", "action", action="review", points=50)
    assert post_idem(api_client, URL, {"type": "review", "reference": "R-1"}).status_code == 201

    response = post_idem(api_client, URL, {"type": "review", "reference": "R-1"})

    assert response.status_code == HTTPStatus.OK
    assert response.json() == {"points_awarded": 0, "awards": [], "reason": "limit_reached"}
    assert Account.objects.get(member=member).available == 50


def test_an_exhausted_budget_is_200_budget_exhausted(api_client, member, make_member):
    make_campaign("follow", "action", action="social_follow", points=40, budget_points=40)
    other = make_member(external_id="C-2")
    post_idem(
        api_client,
        f"/api/v1/members/{other.external_id}/activities",
        {"type": "social_follow", "reference": "ig"},
    )

    response = post_idem(api_client, URL, {"type": "social_follow", "reference": "ig"})

    assert response.status_code == HTTPStatus.OK
    assert response.json() == {"points_awarded": 0, "awards": [], "reason": "budget_exhausted"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"type": "review", "reference": "R-1", "rating": 5}, "rating"),
        ({"reference": "R-1"}, "type"),
        ({"type": "review"}, "reference"),
        ({"type": "", "reference": "R-1"}, "type"),
    ],
)
def test_bad_bodies_are_400_naming_the_field(api_client, member, body, field):
    make_campaign("review", "action", action="review", points=50)

    response = post_idem(api_client, URL, body)

    assert_problem(response, HTTPStatus.BAD_REQUEST, "validation_error", field=field)
    assert CampaignAward.objects.count() == 0


def test_unknown_and_erased_members(api_client, make_member, system_actor):
    member_erase(member=make_member(external_id="C-GONE"), actor=system_actor)
    body = {"type": "review", "reference": "R-1"}

    unknown = post_idem(api_client, "/api/v1/members/C-NOBODY/activities", body)
    erased = post_idem(api_client, "/api/v1/members/C-GONE/activities", body)

    assert_problem(unknown, HTTPStatus.NOT_FOUND, "member_not_found")
    assert_problem(erased, HTTPStatus.GONE, "member_erased")


def test_an_external_id_outside_the_spec_is_400(api_client, db):
    response = post_idem(
        api_client, "/api/v1/members/has%20space/activities", {"type": "review", "reference": "1"}
    )

    assert_problem(response, HTTPStatus.BAD_REQUEST, "validation_error", field="external_id")
