"""Storefront API for rewards: the catalogue, redeeming, and using or cancelling a coupon.

- `GET /api/v1/rewards?member=` — the catalogue (switched-on rewards not yet over, upcoming ones
  included); with `member`, each reward carries `eligible`, `affordable` and `reason`.
- `POST /api/v1/members/{external_id}/redemptions` — redeem (Idempotency-Key).
- `POST /api/v1/redemptions/{id}/use` and `/cancel` — the coupon's end (Idempotency-Key).

One view per operation with explicit input and output serializers; the rules live in
`rewards.services` and `rewards.selectors`. Choices where the contract is silent are in
docs/rewards.md: a redemption's `id` is a UUID; `value` is money off for `fixed_discount` and
`points_discount`, a percentage for `percent_discount`, the product's worth (or null) for
`free_product` and null for `free_shipping`; out-of-bounds points for `points_discount` are
`422 points_out_of_range` with the allowed `min_points` and `max_points`.
"""

from __future__ import annotations

import uuid
from http import HTTPStatus

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api.fields import MoneyField
from config.api.idempotency import IDEMPOTENCY_PROBLEMS, idempotent
from config.api.schema import problems
from config.api.serializers import StrictSerializer
from config.errors import NotFound
from loyalty.api.members import EXTERNAL_ID_PARAMETER, external_id_checked
from loyalty.models import Account
from loyalty.selectors.program import program_settings
from loyalty.services.ledger import spendable_points
from members.actors import Actor
from members.selectors import member_get_for_api
from rewards import selectors, services
from rewards.models import Redemption, RedemptionStatus, RewardKind

# --- fields -----------------------------------------------------------------------------------

MAX_POINTS = 2_147_483_647  # the ledger's `IntegerField`s


class PointsField(serializers.IntegerField):
    """A whole number of points as a JSON integer: `"500"`, `500.0` and `true` are refused."""

    default_error_messages = {"not_integer": "Points must be a JSON integer."}

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("not_integer")
        return super().to_internal_value(data)


def _problems(codes: dict[int, list[str]]) -> dict:
    merged = {status: list(c) for status, c in codes.items()}
    for status, extra in IDEMPOTENCY_PROBLEMS.items():
        merged.setdefault(status, [])
        merged[status] += [c for c in extra if c not in merged[status]]
    merged.setdefault(503, ["database_busy"])
    return problems(merged)


# --- output -----------------------------------------------------------------------------------


class RewardSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    description = serializers.CharField()
    kind = serializers.ChoiceField(choices=RewardKind.choices)
    points_cost = serializers.IntegerField(
        help_text="Points one redemption costs; 0 for points_discount (the member chooses)."
    )
    value = serializers.DecimalField(
        max_digits=12,
        decimal_places=2,
        allow_null=True,
        help_text="fixed_discount: money off; percent_discount: percent off; free_product: the "
        "product's worth or null; null for free_shipping and points_discount.",
    )
    currency = serializers.CharField()
    sku = serializers.CharField(help_text="free_product: the product given; else empty.")
    stock = serializers.IntegerField(allow_null=True, help_text="Left to redeem; null = unlimited.")
    per_member_limit = serializers.IntegerField(allow_null=True)
    min_tier = serializers.CharField(allow_null=True, help_text="Lowest tier code; null = all.")
    active_from = serializers.DateTimeField(allow_null=True)
    active_to = serializers.DateTimeField(allow_null=True)
    coupon_valid_days = serializers.IntegerField()
    min_points = serializers.IntegerField(allow_null=True, help_text="points_discount only.")
    min_share = serializers.DecimalField(
        max_digits=5, decimal_places=4, allow_null=True, help_text="points_discount only."
    )
    max_share = serializers.DecimalField(
        max_digits=5, decimal_places=4, allow_null=True, help_text="points_discount only."
    )
    point_value = serializers.DecimalField(
        max_digits=10,
        decimal_places=4,
        allow_null=True,
        help_text="points_discount only: what one point is worth off the order.",
    )
    eligible = serializers.BooleanField(
        allow_null=True, help_text="With `member`: may redeem now (points aside); else null."
    )
    affordable = serializers.BooleanField(
        allow_null=True, help_text="With `member`: has the points for it; else null."
    )
    reason = serializers.ChoiceField(
        choices=[
            "not_active",
            "member_suspended",
            "tier_too_low",
            "limit_reached",
            "out_of_stock",
            "not_in_segment",
        ],
        allow_null=True,
        help_text="With `member`, when not eligible: why.",
    )


def _reward_data(entry: selectors.CatalogueEntry, *, currency: str, point_value) -> dict:
    reward = entry.reward
    points_discount = reward.kind == RewardKind.POINTS_DISCOUNT
    return {
        "code": reward.code,
        "name": reward.name,
        "description": reward.description,
        "kind": reward.kind,
        "points_cost": reward.points_cost,
        "value": reward.value,
        "currency": currency,
        "sku": reward.sku,
        "stock": reward.stock,
        "per_member_limit": reward.per_member_limit,
        "min_tier": reward.min_tier.code if reward.min_tier else None,
        "active_from": reward.active_from,
        "active_to": reward.active_to,
        "coupon_valid_days": reward.coupon_valid_days,
        "min_points": reward.min_points if points_discount else None,
        "min_share": reward.min_share if points_discount else None,
        "max_share": reward.max_share if points_discount else None,
        "point_value": point_value if points_discount else None,
        "eligible": entry.eligible,
        "affordable": entry.affordable,
        "reason": entry.reason,
    }


class RedemptionBalanceSerializer(serializers.Serializer):
    available = serializers.IntegerField(help_text="The member's available points now.")


class RedemptionSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    reward = serializers.CharField(help_text="The reward's code.")
    kind = serializers.ChoiceField(choices=RewardKind.choices)
    member = serializers.CharField(help_text="The member's external_id.")
    points_spent = serializers.IntegerField()
    coupon_code = serializers.CharField()
    value = serializers.DecimalField(
        max_digits=12,
        decimal_places=2,
        allow_null=True,
        help_text="Money off (fixed_discount, points_discount), percent off (percent_discount), "
        "the product's worth (free_product) or null.",
    )
    currency = serializers.CharField()
    sku = serializers.CharField()
    status = serializers.ChoiceField(choices=RedemptionStatus.choices)
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField()
    used_at = serializers.DateTimeField(allow_null=True)
    used_order_id = serializers.CharField(allow_null=True)
    cancelled_at = serializers.DateTimeField(allow_null=True)
    balance = RedemptionBalanceSerializer()


def _redemption_response(
    redemption: Redemption, *, available: int | None = None, status=HTTPStatus.OK
) -> Response:
    if available is None:
        available = (
            Account.objects.filter(member_id=redemption.member_id)
            .values_list("available", flat=True)
            .first()
        ) or 0
    data = {
        "id": redemption.pk,
        "reward": redemption.reward.code,
        "kind": redemption.kind,
        "member": redemption.member.external_id,
        "points_spent": redemption.points_spent,
        "coupon_code": redemption.coupon_code,
        "value": redemption.value,
        "currency": redemption.currency,
        "sku": redemption.sku,
        "status": redemption.status,
        "created_at": redemption.created_at,
        "expires_at": redemption.expires_at,
        "used_at": redemption.used_at,
        "used_order_id": redemption.used_order_id or None,
        "cancelled_at": redemption.cancelled_at,
        "balance": {"available": available},
    }
    return Response(RedemptionSerializer(data).data, status=status)


# --- input ------------------------------------------------------------------------------------


class RewardListQuerySerializer(StrictSerializer):
    json_body = False  # query parameters: text, parsed by the fields
    member = serializers.CharField(
        required=False, max_length=64, help_text="A member's external_id."
    )
    page = serializers.IntegerField(required=False, min_value=1)
    # Above 200 is served as 200 by the paginator, as on every list (docs/api.md, Pagination).
    page_size = serializers.IntegerField(required=False, min_value=1)


class RedemptionCreateSerializer(StrictSerializer):
    reward = serializers.CharField(max_length=64, help_text="The reward's code.")
    # Bounded by the ledger's integer columns: a bigger number can name no balance, and unbounded
    # it overflowed the discount arithmetic (a 500 for bad input).
    points = PointsField(
        required=False,
        min_value=1,
        max_value=MAX_POINTS,
        help_text="points_discount only: the points to spend.",
    )
    order_total = MoneyField(
        required=False, help_text="points_discount only: the order the discount is for."
    )


class RedemptionUseSerializer(StrictSerializer):
    order_id = serializers.CharField(max_length=64, help_text="The order the coupon was used on.")


class RedemptionCancelSerializer(StrictSerializer):
    reason = serializers.CharField(
        max_length=500, required=False, allow_blank=True, help_text="Why (kept with the refund)."
    )


REDEMPTION_ID_PARAMETER = OpenApiParameter(
    name="redemption_id",
    type=OpenApiTypes.UUID,
    location=OpenApiParameter.PATH,
    description="The redemption's `id` as returned when it was made.",
)


def _redemption(redemption_id: str) -> Redemption:
    try:
        parsed = uuid.UUID(redemption_id)
    except ValueError:
        raise NotFound("redemption_not_found", "No redemption with this id.") from None
    return selectors.redemption_get(redemption_id=parsed)


# --- views ------------------------------------------------------------------------------------


class RewardListApi(generics.ListAPIView):
    serializer_class = RewardSerializer
    filter_backends = []

    def get_queryset(self):
        return selectors.rewards_catalogue()

    @extend_schema(
        operation_id="rewards_list",
        summary="List the reward catalogue",
        description=(
            "Switched-on rewards whose window has not ended (upcoming ones included, with "
            "`reason: not_active` for a member). With `member`, each reward also carries "
            "`eligible`, `affordable` and, when not eligible, `reason`."
        ),
        tags=["rewards"],
        parameters=[
            OpenApiParameter(
                name="member",
                type=OpenApiTypes.STR,
                location=OpenApiParameter.QUERY,
                required=False,
                description="A member's external_id: adds eligibility and affordability.",
            )
        ],
        responses={
            200: RewardSerializer(many=True),
            **problems(
                {
                    400: ["validation_error"],
                    404: ["member_not_found", "not_found"],
                    410: ["member_erased"],
                }
            ),
        },
    )
    def get(self, request, *args, **kwargs):
        query = RewardListQuerySerializer(data=request.query_params.dict())
        query.is_valid(raise_exception=True)
        external_id = query.validated_data.get("member")
        member = (
            member_get_for_api(external_id=external_id_checked(external_id))
            if external_id is not None
            else None
        )
        page = self.paginate_queryset(self.get_queryset())
        settings = program_settings()
        if member is not None:
            entries = selectors.catalogue_for_member(
                rewards=page, member=member, available=spendable_points(member_id=member.pk)
            )
        else:
            entries = [selectors.CatalogueEntry(reward=reward) for reward in page]
        data = [
            _reward_data(e, currency=settings.currency, point_value=settings.point_value)
            for e in entries
        ]
        return self.get_paginated_response(RewardSerializer(data, many=True).data)


class MemberRedemptionCreateApi(APIView):
    @extend_schema(
        operation_id="redemptions_create",
        summary="Redeem a reward",
        description=(
            "Spends the member's points (soonest-expiring first), takes one from stock and issues "
            "a coupon, all or nothing. `points` and `order_total` are for `points_discount` only: "
            "the value is `points × point_value`, within the reward's `min_share`..`max_share` "
            "of `order_total` and from `min_points` (else `422 points_out_of_range`, with the "
            "allowed `min_points` and `max_points`)."
        ),
        tags=["rewards"],
        parameters=[EXTERNAL_ID_PARAMETER],
        request=RedemptionCreateSerializer,
        responses={
            201: RedemptionSerializer,
            **_problems(
                {
                    400: ["validation_error", "malformed_json"],
                    404: ["member_not_found", "reward_not_found"],
                    409: ["out_of_stock"],
                    410: ["member_erased"],
                    422: [
                        "insufficient_points",
                        "not_eligible",
                        "limit_reached",
                        "reward_inactive",
                        "points_out_of_range",
                    ],
                }
            ),
        },
    )
    @idempotent
    def post(self, request, external_id: str):
        body = RedemptionCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        member = member_get_for_api(external_id=external_id_checked(external_id))
        result = services.redemption_create(
            member=member,
            reward_code=body.validated_data["reward"],
            points=body.validated_data.get("points"),
            order_total=body.validated_data.get("order_total"),
            actor=Actor.api(request.api_key),
        )
        result.redemption.member = member
        return _redemption_response(
            result.redemption, available=result.available, status=HTTPStatus.CREATED
        )


_END_PROBLEMS = {
    400: ["validation_error", "malformed_json"],
    404: ["redemption_not_found"],
    409: ["redemption_used", "redemption_cancelled", "redemption_expired"],
}


class RedemptionUseApi(APIView):
    @extend_schema(
        operation_id="redemptions_use",
        summary="Mark a coupon used on an order",
        tags=["rewards"],
        parameters=[REDEMPTION_ID_PARAMETER],
        request=RedemptionUseSerializer,
        responses={200: RedemptionSerializer, **_problems(_END_PROBLEMS)},
    )
    @idempotent
    def post(self, request, redemption_id: str):
        body = RedemptionUseSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        redemption = _redemption(redemption_id)
        used = services.redemption_use(
            redemption=redemption,
            order_id=body.validated_data["order_id"],
            actor=Actor.api(request.api_key),
        )
        used.member = redemption.member
        return _redemption_response(used)


class RedemptionCancelApi(APIView):
    @extend_schema(
        operation_id="redemptions_cancel",
        summary="Cancel an unused coupon",
        description="The points come back (as they were: same expiry) and the stock too, once.",
        tags=["rewards"],
        parameters=[REDEMPTION_ID_PARAMETER],
        request=RedemptionCancelSerializer,
        responses={200: RedemptionSerializer, **_problems(_END_PROBLEMS)},
    )
    @idempotent
    def post(self, request, redemption_id: str):
        body = RedemptionCancelSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        redemption = _redemption(redemption_id)
        cancelled = services.redemption_cancel(
            redemption=redemption,
            reason=body.validated_data.get("reason") or "Cancelled by the storefront",
            actor=Actor.api(request.api_key),
        )
        cancelled.member = redemption.member
        return _redemption_response(cancelled)
