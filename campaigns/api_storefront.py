"""Storefront API for the "ways to earn" and "refer a friend" pages (read-only).

- `GET /api/v1/ways-to-earn?member=` — the campaigns live now, with what each gives; with
  `member`, only those targeting the member, and how many awards the member has left.
- `GET /api/v1/members/{external_id}/referrals` — the member's referral code, the friends who
  joined with it (pending, rewarded, rejected) and the points earned for them. The program does
  not see codes shared but never used, so there is no "invited" count.
"""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from campaigns.models import Campaign
from campaigns.storefront import WayToEarn, referral_stats, ways_to_earn
from config.api.schema import problems
from config.api.serializers import StrictSerializer
from loyalty.api.members import EXTERNAL_ID_PARAMETER, external_id_checked
from members.selectors import member_get_for_api


class WayToEarnSerializer(serializers.Serializer):
    campaign = serializers.CharField(source="campaign.code")
    name = serializers.CharField(source="campaign.name")
    description = serializers.CharField(source="campaign.description")
    kind = serializers.ChoiceField(source="campaign.kind", choices=Campaign.Kind.choices)
    action = serializers.CharField(
        allow_null=True, help_text="action: the activity `type` to report; else null."
    )
    automatic = serializers.BooleanField(
        help_text="Nothing to report as an activity: the program awards it by itself (first "
        "order, birthday, anniversary) or with the feedback it records (feedback)."
    )
    points = serializers.IntegerField(
        allow_null=True, help_text="action: points per award; referral: for the referrer."
    )
    multiplier = serializers.DecimalField(
        max_digits=6, decimal_places=2, allow_null=True, help_text="multiplier campaigns only."
    )
    weekdays = serializers.ListField(child=serializers.IntegerField(), allow_null=True)
    day_of_month = serializers.IntegerField(allow_null=True, source="campaign.day_of_month")
    categories = serializers.ListField(child=serializers.CharField(), allow_null=True)
    referee_points = serializers.IntegerField(
        allow_null=True, help_text="referral: what the friend gets."
    )
    starts_at = serializers.DateTimeField(source="campaign.starts_at")
    ends_at = serializers.DateTimeField(source="campaign.ends_at", allow_null=True)
    per_member_limit = serializers.IntegerField(source="campaign.per_member_limit", allow_null=True)
    awards_left = serializers.IntegerField(
        allow_null=True, help_text="With `member`: awards left under the limit; null: no limit."
    )
    available = serializers.BooleanField(
        help_text="False when the budget is spent or the member's limit is reached."
    )


def _way_data(way: WayToEarn) -> dict:
    campaign = way.campaign
    kind = campaign.kind
    points = {
        Campaign.Kind.ACTION: campaign.points,
        Campaign.Kind.REFERRAL: campaign.referrer_points,
    }.get(kind)
    multiplier_only = kind == Campaign.Kind.MULTIPLIER
    return {
        "campaign": campaign,
        "action": way.action,
        "automatic": way.automatic,
        "points": points,
        "multiplier": campaign.multiplier if multiplier_only else None,
        "weekdays": campaign.weekdays if multiplier_only else None,
        "categories": campaign.categories if multiplier_only else None,
        "referee_points": campaign.referee_points if kind == Campaign.Kind.REFERRAL else None,
        "awards_left": way.awards_left,
        "available": way.available,
    }


class WaysToEarnSerializer(serializers.Serializer):
    results = WayToEarnSerializer(many=True)


class WaysToEarnQuerySerializer(StrictSerializer):
    json_body = False  # query parameters: text, parsed by the fields
    member = serializers.CharField(required=False, max_length=64)


class WaysToEarnApi(APIView):
    @extend_schema(
        operation_id="ways_to_earn_list",
        summary="The campaigns and actions a member can earn from now",
        parameters=[
            OpenApiParameter(
                "member", OpenApiTypes.STR, required=False, description="A member's external_id."
            )
        ],
        responses={
            200: WaysToEarnSerializer,
            **problems(
                {400: ["validation_error"], 404: ["member_not_found"], 410: ["member_erased"]}
            ),
        },
        tags=["campaigns"],
    )
    def get(self, request):
        query = WaysToEarnQuerySerializer(data=request.query_params.dict())
        query.is_valid(raise_exception=True)
        member = None
        if "member" in query.validated_data:
            member = member_get_for_api(
                external_id=external_id_checked(query.validated_data["member"])
            )
        results = [_way_data(way) for way in ways_to_earn(member=member)]
        return Response(WaysToEarnSerializer({"results": results}).data)


class ReferralStatsSerializer(serializers.Serializer):
    referral_code = serializers.CharField(help_text="The member's code, to share.")
    joined = serializers.IntegerField(help_text="Friends who enrolled with the code.")
    pending = serializers.IntegerField(help_text="Waiting for the friend's first order to clear.")
    rewarded = serializers.IntegerField(help_text="The member was paid for these friends.")
    rejected = serializers.IntegerField(help_text="Not rewarded (refunded, over a limit...).")
    points_earned = serializers.IntegerField(help_text="Points the member got for referring.")


class MemberReferralsApi(APIView):
    @extend_schema(
        operation_id="members_referrals",
        summary="A member's referral code and the friends who joined with it",
        parameters=[EXTERNAL_ID_PARAMETER],
        responses={
            200: ReferralStatsSerializer,
            **problems(
                {400: ["validation_error"], 404: ["member_not_found"], 410: ["member_erased"]}
            ),
        },
        tags=["campaigns"],
    )
    def get(self, request, external_id: str):
        member = member_get_for_api(external_id=external_id_checked(external_id))
        return Response(ReferralStatsSerializer(referral_stats(member=member)).data)
