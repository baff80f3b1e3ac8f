"""`POST /api/v1/members/{external_id}/activities` (Idempotency-Key): the storefront reports an
action (a review, a follow, a newsletter sign-up, a completed profile, or a custom action code a
campaign defines) and the member gets every matching campaign's bonus.

201 with the awards when something was awarded; 200 with `points_awarded: 0` and a `reason`
(`no_campaign`, `limit_reached`, `budget_exhausted`) when nothing was. A member a campaign holds
out (`campaigns.holdout`) reads `no_campaign`: for them none applies, and the storefront
contract (the spec) knows no other reason.
"""

from __future__ import annotations

from http import HTTPStatus

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from campaigns.holdout import HELD_OUT
from campaigns.services.actions import activity_record
from campaigns.services.awards import NO_CAMPAIGN
from config.api.idempotency import IDEMPOTENCY_PROBLEMS, idempotent
from config.api.schema import problems
from config.api.serializers import StrictSerializer
from loyalty.api.members import EXTERNAL_ID_PARAMETER, external_id_checked
from members.actors import Actor
from members.selectors import member_get_for_api


class ActivityInputSerializer(StrictSerializer):
    # The alphabet of `Campaign.action_code` (a slug, case kept), so every code a campaign can
    # define can be reported.
    type = serializers.RegexField(
        r"^[A-Za-z0-9_\-]{1,64}$",
        help_text="review, social_follow, newsletter_signup, profile_completed, or a custom "
        "action code defined by a campaign.",
    )
    reference = serializers.CharField(
        max_length=100, help_text="The storefront's id for it (e.g. the review id)."
    )


class AwardSerializer(serializers.Serializer):
    campaign = serializers.CharField()
    points = serializers.IntegerField()


class ActivityOutputSerializer(serializers.Serializer):
    points_awarded = serializers.IntegerField()
    awards = AwardSerializer(many=True)
    reason = serializers.ChoiceField(
        choices=["no_campaign", "limit_reached", "budget_exhausted"], required=False
    )


class ActivityApi(APIView):
    @extend_schema(
        operation_id="activities_create",
        summary="Report a member's activity and award campaign bonuses",
        parameters=[EXTERNAL_ID_PARAMETER],
        request=ActivityInputSerializer,
        responses={
            201: ActivityOutputSerializer,
            200: ActivityOutputSerializer,
            **problems(
                {
                    **IDEMPOTENCY_PROBLEMS,
                    400: ["validation_error", "malformed_json"],
                    404: ["member_not_found"],
                    410: ["member_erased"],
                    503: ["database_busy"],
                }
            ),
        },
        tags=["campaigns"],
    )
    @idempotent
    def post(self, request, external_id: str):
        data = ActivityInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        member = member_get_for_api(external_id=external_id_checked(external_id))
        result = activity_record(
            member=member,
            type=data.validated_data["type"],
            reference=data.validated_data["reference"],
            actor=Actor.api(request.api_key),
        )
        body = {
            "points_awarded": result.points_awarded,
            "awards": [{"campaign": code, "points": points} for code, points in result.awards],
        }
        if not result.awards:
            # The spec's reasons only: held out of the campaign is, for this member, no campaign.
            body["reason"] = NO_CAMPAIGN if result.reason == HELD_OUT else result.reason
        status = HTTPStatus.CREATED if result.awards else HTTPStatus.OK
        return Response(ActivityOutputSerializer(body).data, status=status)
