"""`POST /api/v1/members/{external_id}/feedback` (Idempotency-Key): a member's NPS or CSAT score,
an optional comment and order; live "feedback submitted" campaigns reward it, whatever the score.

The feedback and its awards commit together (the idempotent view's transaction), so a retry with
the same key answers the same body and neither records nor rewards twice.
"""

from __future__ import annotations

from http import HTTPStatus

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from campaigns.api import AwardSerializer
from campaigns.services.actions import feedback_awards
from config.api.idempotency import IDEMPOTENCY_PROBLEMS, idempotent
from config.api.schema import problems
from config.api.serializers import StrictSerializer
from feedback.models import FeedbackScale
from feedback.services import feedback_record
from loyalty.api.members import EXTERNAL_ID_PARAMETER, external_id_checked
from members.actors import Actor
from members.selectors import member_get_for_api


class ScoreField(serializers.IntegerField):
    """A JSON integer: `"9"`, `9.0` and `true` are refused (the range depends on `scale`)."""

    default_error_messages = {"not_integer": "The score must be a JSON integer."}

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("not_integer")
        return super().to_internal_value(data)


class FeedbackInputSerializer(StrictSerializer):
    score = ScoreField(help_text="0–10 for nps, 1–5 for csat.")
    scale = serializers.ChoiceField(choices=FeedbackScale.choices, default=FeedbackScale.NPS)
    comment = serializers.CharField(max_length=2000, required=False, allow_blank=True)
    order_id = serializers.CharField(
        max_length=64, required=False, help_text="The member's order the feedback is about."
    )
    channel = serializers.CharField(
        max_length=32, required=False, allow_blank=True, help_text="e.g. email, app, web."
    )


class FeedbackOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    scale = serializers.ChoiceField(choices=FeedbackScale.choices)
    score = serializers.IntegerField()
    band = serializers.CharField(
        allow_null=True, help_text="nps: detractor (0–6), passive (7–8) or promoter (9–10)."
    )
    created_at = serializers.DateTimeField()
    points_awarded = serializers.IntegerField()
    awards = AwardSerializer(many=True)


class FeedbackApi(APIView):
    @extend_schema(
        operation_id="members_feedback_create",
        summary="Record a member's feedback (NPS or CSAT) and reward it",
        parameters=[EXTERNAL_ID_PARAMETER],
        request=FeedbackInputSerializer,
        responses={
            201: FeedbackOutputSerializer,
            **problems(
                {
                    **IDEMPOTENCY_PROBLEMS,
                    400: ["validation_error", "malformed_json"],
                    404: ["member_not_found", "order_not_found"],
                    410: ["member_erased"],
                    503: ["database_busy"],
                }
            ),
        },
        tags=["members"],
    )
    @idempotent
    def post(self, request, external_id: str):
        data = FeedbackInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        member = member_get_for_api(external_id=external_id_checked(external_id))
        actor = Actor.api(request.api_key)
        feedback = feedback_record(member=member, actor=actor, **data.validated_data)
        result = feedback_awards(member=member, feedback_id=feedback.pk, actor=actor)
        body = {
            "id": feedback.pk,
            "scale": feedback.scale,
            "score": feedback.score,
            "band": feedback.nps_band,
            "created_at": feedback.created_at,
            "points_awarded": result.points_awarded,
            "awards": [{"campaign": code, "points": points} for code, points in result.awards],
        }
        return Response(FeedbackOutputSerializer(body).data, status=HTTPStatus.CREATED)
