"""The storefront's paid-membership API, under `/api/v1/members/{external_id}/memberships`.

- `GET` lists the member's memberships with their periods, charges and perk usages.
- `POST` starts one: a free trial or a paid period with the shop's payment reference (`201`).
- `POST .../{id}/renew`, `.../{id}/cancel`, `.../{id}/refund`: the state machine's transitions
  (`memberships.states`), each answering the membership (`200`).
- `POST .../{id}/perk-usage`: a plan perk used on an order (`201`; `200` when already recorded).

Every `POST` is idempotent by its `Idempotency-Key` (`config.api.idempotency`): the services run
inside the key's transaction, so a retry answers the first response and writes nothing, and a
refusal (`already_member`, `invalid_transition`...) is stored and answered again. The payment
itself stays with the shop's payment provider: the back office records its reference.
"""

from __future__ import annotations

from http import HTTPStatus

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api.idempotency import IDEMPOTENCY_PROBLEMS, idempotent
from config.api.schema import problems
from config.api.serializers import StrictSerializer
from loyalty.api.members import EXTERNAL_ID_PARAMETER, MemberPerkSerializer, external_id_checked
from loyalty.selectors.tiers import tier_perks
from members.actors import Actor
from members.selectors import member_get_for_api
from memberships import services
from memberships.models import Membership, MembershipStatus
from memberships.selectors import member_memberships, membership_get_for_api, renews_on

MEMBERSHIP_ID_PARAMETER = OpenApiParameter(
    name="membership_id",
    type=OpenApiTypes.INT,
    location=OpenApiParameter.PATH,
    description="The membership's id (`id` in the answers).",
)
_TRANSITION_PROBLEMS = {
    **IDEMPOTENCY_PROBLEMS,
    400: ["validation_error", "malformed_json"],
    404: ["member_not_found", "membership_not_found"],
    410: ["member_erased"],
    503: ["database_busy"],
}


# --- input ------------------------------------------------------------------------------------


class MembershipStartSerializer(StrictSerializer):
    plan = serializers.SlugField(max_length=64, help_text="The plan's code.")
    trial = serializers.BooleanField(
        default=False, help_text="Start the plan's free trial (no payment) instead of paying."
    )
    payment_reference = serializers.CharField(
        max_length=100,
        required=False,
        help_text="The shop's payment id for the first period; required unless `trial`.",
    )


class MembershipRenewSerializer(StrictSerializer):
    payment_reference = serializers.CharField(
        max_length=100, help_text="The shop's payment id for the next period."
    )


class MembershipCancelSerializer(StrictSerializer):
    at_period_end = serializers.BooleanField(
        default=True,
        help_text="true: the perks last until the paid period ends; false: they end now.",
    )


class MembershipRefundSerializer(StrictSerializer):
    """Refund the latest paid period by the plan's refund rule (no body needed)."""


class PerkUsageSerializer(StrictSerializer):
    perk = serializers.SlugField(max_length=64, help_text="The perk's code (one of the plan's).")
    order_id = serializers.CharField(max_length=64, help_text="The order it was used on.")


# --- output -----------------------------------------------------------------------------------


class PeriodSerializer(serializers.Serializer):
    number = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=["trial", "paid"])
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField()


class ChargeSerializer(serializers.Serializer):
    period = serializers.IntegerField(source="period_number", help_text="The period's number.")
    kind = serializers.ChoiceField(choices=["payment", "refund"])
    amount = serializers.DecimalField(
        max_digits=12, decimal_places=2, help_text="Payments positive, refunds negative."
    )
    currency = serializers.CharField()
    payment_reference = serializers.CharField()
    created_at = serializers.DateTimeField()


class PerkUsageOutputSerializer(serializers.Serializer):
    perk = serializers.CharField(source="perk.code")
    order_id = serializers.CharField()
    period = serializers.IntegerField(source="period_number")
    used_at = serializers.DateTimeField()


class MembershipSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    plan = serializers.CharField(source="plan.code")
    name = serializers.CharField(source="plan.name")
    status = serializers.ChoiceField(choices=MembershipStatus.values)
    started_at = serializers.DateTimeField()
    current_period_start = serializers.DateTimeField()
    current_period_end = serializers.DateTimeField()
    renews_on = serializers.SerializerMethodField(
        help_text="The next payment's day (program time zone) while trialing or active; else null."
    )
    ends_at = serializers.DateTimeField(
        allow_null=True, help_text="Cancelled: when the perks end (or ended)."
    )
    grace_until = serializers.DateTimeField(
        allow_null=True, help_text="Past due: the perks end then unless renewed."
    )
    cancelled_at = serializers.DateTimeField(allow_null=True)
    ended_at = serializers.DateTimeField(allow_null=True, help_text="Expired or refunded: when.")
    perks = serializers.SerializerMethodField()
    periods = PeriodSerializer(many=True)
    charges = ChargeSerializer(many=True)
    perk_usages = PerkUsageOutputSerializer(many=True)

    @extend_schema_field(OpenApiTypes.DATE)
    def get_renews_on(self, membership: Membership):
        value = renews_on(membership)
        return None if value is None else value.isoformat()

    @extend_schema_field(MemberPerkSerializer(many=True))
    def get_perks(self, membership: Membership):
        return MemberPerkSerializer(tier_perks(membership.plan), many=True).data


class MembershipListSerializer(serializers.Serializer):
    results = MembershipSerializer(many=True)


def _answer(member, membership_id: int, status: int = HTTPStatus.OK) -> Response:
    """The membership as it is now (re-read with its history, in the request's transaction)."""
    membership = membership_get_for_api(member=member, membership_id=membership_id)
    return Response(MembershipSerializer(membership).data, status=status)


# --- views ------------------------------------------------------------------------------------


class MembershipsApi(APIView):
    @extend_schema(
        operation_id="members_memberships_list",
        summary="A member's paid memberships, with their periods, charges and perk usages",
        parameters=[EXTERNAL_ID_PARAMETER],
        responses={
            200: MembershipListSerializer,
            **problems(
                {400: ["validation_error"], 404: ["member_not_found"], 410: ["member_erased"]}
            ),
        },
        tags=["members"],
    )
    def get(self, request, external_id: str):
        member = member_get_for_api(external_id=external_id_checked(external_id))
        body = {"results": member_memberships(member=member)}
        return Response(MembershipListSerializer(body).data)

    @extend_schema(
        operation_id="members_memberships_start",
        summary="Start a paid membership: a free trial or a paid period",
        description=(
            "`trial: true` starts the plan's free trial (no payment; once per member and plan). "
            "Otherwise the first paid period starts now, paid with `payment_reference` (the "
            "shop's payment id; the payment stays with the shop's provider)."
        ),
        parameters=[EXTERNAL_ID_PARAMETER],
        request=MembershipStartSerializer,
        responses={
            201: MembershipSerializer,
            **problems(
                {
                    **IDEMPOTENCY_PROBLEMS,
                    400: ["validation_error", "malformed_json"],
                    404: ["member_not_found", "plan_not_found"],
                    409: ["already_member", "payment_reference_used"],
                    410: ["member_erased"],
                    422: ["plan_inactive", "trial_unavailable"],
                    503: ["database_busy"],
                }
            ),
        },
        tags=["members"],
    )
    @idempotent
    def post(self, request, external_id: str):
        data = MembershipStartSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        member = member_get_for_api(external_id=external_id_checked(external_id))
        membership = services.membership_start(
            member=member,
            plan_code=data.validated_data["plan"],
            trial=data.validated_data["trial"],
            payment_reference=data.validated_data.get("payment_reference", ""),
            actor=Actor.api(request.api_key),
        )
        return _answer(member, membership.pk, status=HTTPStatus.CREATED)


class _TransitionApi(APIView):
    input_serializer: type[StrictSerializer]

    def _run(self, request, external_id: str, membership_id: int, action):
        data = self.input_serializer(data=request.data)
        data.is_valid(raise_exception=True)
        member = member_get_for_api(external_id=external_id_checked(external_id))
        membership = membership_get_for_api(member=member, membership_id=membership_id)
        action(membership, Actor.api(request.api_key), data.validated_data)
        return _answer(member, membership.pk)


def _transition_schema(operation_id: str, summary: str, request, conflicts: dict) -> dict:
    return {
        "operation_id": operation_id,
        "summary": summary,
        "parameters": [EXTERNAL_ID_PARAMETER, MEMBERSHIP_ID_PARAMETER],
        "request": request,
        "responses": {200: MembershipSerializer, **problems({**_TRANSITION_PROBLEMS, **conflicts})},
        "tags": ["members"],
    }


class MembershipRenewApi(_TransitionApi):
    input_serializer = MembershipRenewSerializer

    @extend_schema(
        **_transition_schema(
            "members_memberships_renew",
            "Renew: pay the next period (trialing, active or past due)",
            MembershipRenewSerializer,
            {409: ["invalid_transition", "payment_reference_used"]},
        )
    )
    @idempotent
    def post(self, request, external_id: str, membership_id: int):
        return self._run(
            request,
            external_id,
            membership_id,
            lambda m, actor, data: services.membership_renew(
                membership=m, payment_reference=data["payment_reference"], actor=actor
            ),
        )


class MembershipCancelApi(_TransitionApi):
    input_serializer = MembershipCancelSerializer

    @extend_schema(
        **_transition_schema(
            "members_memberships_cancel",
            "Cancel at the period's end or now",
            MembershipCancelSerializer,
            {409: ["invalid_transition"]},
        )
    )
    @idempotent
    def post(self, request, external_id: str, membership_id: int):
        return self._run(
            request,
            external_id,
            membership_id,
            lambda m, actor, data: services.membership_cancel(
                membership=m, at_period_end=data["at_period_end"], actor=actor
            ),
        )


class MembershipRefundApi(_TransitionApi):
    input_serializer = MembershipRefundSerializer

    @extend_schema(
        **_transition_schema(
            "members_memberships_refund",
            "Refund the latest paid period by the plan's refund rule",
            MembershipRefundSerializer,
            {409: ["invalid_transition"], 422: ["not_refundable"]},
        )
    )
    @idempotent
    def post(self, request, external_id: str, membership_id: int):
        return self._run(
            request,
            external_id,
            membership_id,
            lambda m, actor, data: services.membership_refund(membership=m, actor=actor),
        )


class PerkUsageApi(APIView):
    @extend_schema(
        operation_id="members_memberships_perk_usage",
        summary="Report a plan perk used on an order (it bars a full refund of the period)",
        parameters=[EXTERNAL_ID_PARAMETER, MEMBERSHIP_ID_PARAMETER],
        request=PerkUsageSerializer,
        responses={
            201: PerkUsageOutputSerializer,
            200: PerkUsageOutputSerializer,
            **problems(
                {
                    **_TRANSITION_PROBLEMS,
                    404: ["member_not_found", "membership_not_found", "perk_not_found"],
                    409: ["invalid_transition"],
                }
            ),
        },
        tags=["members"],
    )
    @idempotent
    def post(self, request, external_id: str, membership_id: int):
        data = PerkUsageSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        member = member_get_for_api(external_id=external_id_checked(external_id))
        membership = membership_get_for_api(member=member, membership_id=membership_id)
        usage, created = services.membership_perk_usage_record(
            membership=membership,
            perk_code=data.validated_data["perk"],
            order_id=data.validated_data["order_id"],
            actor=Actor.api(request.api_key),
        )
        return Response(
            PerkUsageOutputSerializer(usage).data,
            status=HTTPStatus.CREATED if created else HTTPStatus.OK,
        )
