"""`GET /api/v1/members/{external_id}/suggestions`: up to `limit` rewards ranked for the member,
each with the reasons (`rewards.suggestions`): codes in English, sentences in the request's
language."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api.schema import problems
from config.api.serializers import StrictSerializer
from loyalty.api.members import EXTERNAL_ID_PARAMETER, external_id_checked
from members.selectors import member_get_for_api
from rewards.suggestions import DEFAULT_LIMIT, MAX_LIMIT, member_suggestions

REASON_CODES = ["redeem_now", "points_to_go", "tier", "expiring", "category", "popular"]


class SuggestionReasonSerializer(serializers.Serializer):
    code = serializers.ChoiceField(choices=REASON_CODES)
    text = serializers.CharField(help_text="The reason, for the customer to read.")


class SuggestionSerializer(serializers.Serializer):
    reward = serializers.CharField(help_text="The reward's code.")
    name = serializers.CharField()
    points_cost = serializers.IntegerField()
    score = serializers.IntegerField(help_text="Higher first (docs/segments.md, Suggestions).")
    reasons = SuggestionReasonSerializer(many=True)


class SuggestionListSerializer(serializers.Serializer):
    results = SuggestionSerializer(many=True)


class SuggestionQuerySerializer(StrictSerializer):
    json_body = False  # query parameters: text, parsed by the fields
    limit = serializers.IntegerField(required=False, min_value=1, max_value=MAX_LIMIT)


class MemberSuggestionsApi(APIView):
    @extend_schema(
        operation_id="members_suggestions",
        summary="Rewards suggested for a member, with reasons",
        description="Up to `limit` rewards (default 5, at most 20) ranked for the member: "
        "eligibility, the balance and points expiring soon, the categories the member buys, "
        "popularity among similar members. Deterministic.",
        parameters=[
            EXTERNAL_ID_PARAMETER,
            OpenApiParameter(
                name="limit",
                # The bounds the query serializer enforces, so that the schema promises no more.
                type={"type": "integer", "minimum": 1, "maximum": MAX_LIMIT},
                location=OpenApiParameter.QUERY,
                required=False,
                description=f"How many (1–{MAX_LIMIT}; default {DEFAULT_LIMIT}).",
            ),
        ],
        responses={
            200: SuggestionListSerializer,
            **problems(
                {400: ["validation_error"], 404: ["member_not_found"], 410: ["member_erased"]}
            ),
        },
        tags=["members"],
    )
    def get(self, request, external_id: str):
        query = SuggestionQuerySerializer(data=request.query_params.dict())
        query.is_valid(raise_exception=True)
        member = member_get_for_api(external_id=external_id_checked(external_id))
        limit = query.validated_data.get("limit", DEFAULT_LIMIT)
        results = [
            {
                "reward": s.reward.code,
                "name": s.reward.name,
                "points_cost": s.reward.points_cost,
                "score": s.score,
                "reasons": s.reasons,
            }
            for s in member_suggestions(member=member, limit=limit)
        ]
        return Response(SuggestionListSerializer({"results": results}).data)
