"""Storefront API for a member's coupons (the redemptions' codes).

- `GET /api/v1/members/{external_id}/coupons?status=` — the member's coupons, newest first,
  paginated; `status` is `issued` (open: usable now), `used`, `cancelled` or `expired`.
- `GET /api/v1/coupons/{code}?member=` — validate a code at checkout: whose, what it is worth,
  whether it can be used now and, if not, why. `member` is required: a code of another member
  is `404 coupon_not_found`, the same answer as an unknown code, so a checkout cannot probe for
  other members' coupons.

A coupon's status is `Redemption.status_at(now)`: an issued coupon past its expiry reads as
expired even before the daily job marks it, as `use` and `cancel` already treat it.
"""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api.schema import problems
from config.api.serializers import StrictSerializer
from loyalty.api.members import EXTERNAL_ID_PARAMETER, external_id_checked
from members.selectors import member_get_for_api
from rewards import selectors
from rewards.models import Redemption, RedemptionStatus, RewardKind


class CouponSerializer(serializers.Serializer):
    code = serializers.CharField(source="coupon_code")
    redemption_id = serializers.UUIDField(source="pk")
    reward = serializers.CharField(source="reward.code", help_text="The reward's code.")
    reward_name = serializers.CharField(source="reward.name")
    kind = serializers.ChoiceField(choices=RewardKind.choices)
    value = serializers.DecimalField(
        max_digits=12,
        decimal_places=2,
        allow_null=True,
        help_text="Money off (fixed_discount, points_discount), percent off (percent_discount), "
        "the product's worth (free_product) or null.",
    )
    currency = serializers.CharField()
    sku = serializers.CharField()
    points_spent = serializers.IntegerField()
    status = serializers.SerializerMethodField(help_text="As the member sees it now.")
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField()
    used_at = serializers.DateTimeField(allow_null=True)
    used_order_id = serializers.SerializerMethodField()

    def get_status(self, coupon: Redemption) -> str:
        return coupon.status_at(self.context["now"])

    def get_used_order_id(self, coupon: Redemption) -> str | None:
        return coupon.used_order_id or None


class CouponCheckSerializer(CouponSerializer):
    member = serializers.CharField(source="member.external_id")
    valid = serializers.SerializerMethodField(help_text="True when it can be used now.")
    reason = serializers.SerializerMethodField(
        help_text="When not valid: `used`, `cancelled` or `expired`; else null."
    )

    def get_valid(self, coupon: Redemption) -> bool:
        return self.get_status(coupon) == RedemptionStatus.ISSUED

    def get_reason(self, coupon: Redemption) -> str | None:
        status = self.get_status(coupon)
        return None if status == RedemptionStatus.ISSUED else status


class CouponListQuerySerializer(StrictSerializer):
    json_body = False  # query parameters: text, parsed by the fields
    status = serializers.ChoiceField(choices=RedemptionStatus.choices, required=False)
    page = serializers.IntegerField(required=False, min_value=1)
    page_size = serializers.IntegerField(required=False, min_value=1)


class CouponCheckQuerySerializer(StrictSerializer):
    json_body = False  # query parameters: text, parsed by the fields
    member = serializers.CharField(max_length=64, help_text="The member's external_id.")


class MemberCouponListApi(generics.ListAPIView):
    serializer_class = CouponSerializer

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "now": self.now}

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation: no member
            return Redemption.objects.none()
        query = CouponListQuerySerializer(data=self.request.query_params.dict())
        query.is_valid(raise_exception=True)
        member = member_get_for_api(external_id=external_id_checked(self.kwargs["external_id"]))
        return selectors.coupons_for_member(
            member_id=member.pk, status=query.validated_data.get("status"), now=self.now
        )

    @extend_schema(
        operation_id="members_coupons_list",
        summary="A member's coupons: open, used, cancelled and expired",
        parameters=[
            EXTERNAL_ID_PARAMETER,
            OpenApiParameter(
                "status", OpenApiTypes.STR, enum=list(RedemptionStatus.values), required=False
            ),
        ],
        responses={
            200: CouponSerializer(many=True),
            **problems(
                {
                    400: ["validation_error"],
                    404: ["member_not_found", "not_found"],
                    410: ["member_erased"],
                }
            ),
        },
        tags=["rewards"],
    )
    def get(self, request, *args, **kwargs):
        self.now = timezone.now()
        return super().get(request, *args, **kwargs)


class CouponCheckApi(APIView):
    @extend_schema(
        operation_id="coupons_check",
        summary="Validate a coupon code at checkout",
        parameters=[
            OpenApiParameter("code", OpenApiTypes.STR, OpenApiParameter.PATH),
            OpenApiParameter(
                "member", OpenApiTypes.STR, required=True, description="The member's external_id."
            ),
        ],
        responses={
            200: CouponCheckSerializer,
            **problems(
                {
                    400: ["validation_error"],
                    404: ["member_not_found", "coupon_not_found"],
                    410: ["member_erased"],
                }
            ),
        },
        tags=["rewards"],
    )
    def get(self, request, code: str):
        query = CouponCheckQuerySerializer(data=request.query_params.dict())
        query.is_valid(raise_exception=True)
        member = member_get_for_api(external_id=external_id_checked(query.validated_data["member"]))
        coupon = selectors.coupon_get_for_member(code=code, member_id=member.pk)
        data = CouponCheckSerializer(coupon, context={"now": timezone.now()}).data
        return Response(data)
