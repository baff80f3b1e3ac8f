"""`POST /api/v1/orders` and `POST /api/v1/orders/{order_id}/refunds`.

An order is a member's (`member`: it earns) or a guest's (no `member`; an optional `guest_key`:
it earns nothing, `loyalty.services.guests`); the request's schema is a `oneOf` of the two
bodies, so one with both `member` and `guest_key` is refused naming `guest_key`. A refund of a
guest order's id is recorded on the guest order (`loyalty.services.guest_refunds`).

Both are idempotent by the storefront's own ids (`order_id`, `refund_id`), enforced by the
services and unique constraints, so no `Idempotency-Key` is needed: the same body again answers
`200` with the same result, other content under the same id is a `409` conflict. The `member`
block reports the member's balance as it is when the answer is written.

A deadlock or serialisation failure is retried a few times (the services are idempotent, so a
retry can never earn twice); what still fails, or a lock wait past `lock_timeout`, ends in
`503` with `Retry-After` through the API's exception handler.
"""

from __future__ import annotations

import copy
import datetime as dt
from http import HTTPStatus

from django.db import IntegrityError
from django.utils import timezone
from django.utils.translation import gettext
from drf_spectacular.utils import PolymorphicProxySerializer, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api.fields import MoneyField
from config.api.retry import retry_on_contention
from config.api.schema import problems
from config.api.serializers import AwareDateTimeField, StrictSerializer
from config.errors import NotFound
from loyalty.services.guest_refunds import GuestRefundResult, guest_refund_record
from loyalty.services.guests import GUEST_KEY_MESSAGE, GUEST_KEY_PATTERN, guest_order_record
from loyalty.services.orders import order_record_by_external_id, refund_record
from members.actors import Actor

# A storefront's clock may run a little ahead of ours; beyond this, a future time is a bug.
CLOCK_SKEW = dt.timedelta(minutes=5)


def _not_in_future(value: dt.datetime) -> dt.datetime:
    if value > timezone.now() + CLOCK_SKEW:
        raise serializers.ValidationError("This time is in the future.")
    return value


class OrderItemInputSerializer(StrictSerializer):
    sku = serializers.CharField(max_length=64)
    category = serializers.CharField(max_length=64, required=False, allow_blank=True)
    quantity = serializers.IntegerField(min_value=1, max_value=1_000_000)
    unit_price = MoneyField()


class OrderInputSerializer(StrictSerializer):
    # DRF deep-copies every declared field for every serializer instance (re-running each field's
    # `__init__`): about half of validating an order. This serializer and its fields keep no state
    # from one validation to the next, so each instance gets shallow copies instead: its own field
    # objects, bound to it, sharing only what DRF never changes once built (validators, error
    # messages, the items' child serializer). (A comment, not a docstring: the schema shows those.)
    def get_fields(self):
        return {name: copy.copy(field) for name, field in self._declared_fields.items()}

    order_id = serializers.CharField(max_length=64)
    member = serializers.CharField(max_length=64, help_text="The member's `external_id`.")
    placed_at = AwareDateTimeField(validators=[_not_in_future])
    currency = serializers.RegexField(r"^[A-Z]{3}$", help_text="ISO 4217 code, e.g. GBP.")
    total = MoneyField()
    eligible_total = MoneyField(
        required=False,
        allow_null=True,
        help_text="Goods after discounts, without shipping and tax; `total` when absent.",
    )
    items = OrderItemInputSerializer(many=True, required=False, max_length=1000)
    channel = serializers.CharField(max_length=32, required=False, allow_blank=True)
    retro_credit = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Credit an order placed before the member enrolled (at most "
        "`LOYALTY_RETRO_CREDIT_DAYS` before, 90 by default); without it such an order is "
        "`422 order_before_enrolment`.",
    )


class GuestOrderInputSerializer(StrictSerializer):
    """An order of a customer who is not a member: recorded, earns nothing."""

    def get_fields(self):  # as `OrderInputSerializer`
        return {name: copy.copy(field) for name, field in self._declared_fields.items()}

    order_id = serializers.CharField(max_length=64)
    guest_key = serializers.RegexField(
        GUEST_KEY_PATTERN,
        required=False,
        help_text="Who the guest is, so that their orders are counted together: the shop's "
        "customer id (no `@`), or `sha256:` and the hex SHA-256 of the trimmed, lower-cased "
        "email. Absent: an unknown customer. Never with `member`.",
        error_messages={"invalid": GUEST_KEY_MESSAGE},
    )
    placed_at = AwareDateTimeField(validators=[_not_in_future])
    currency = serializers.RegexField(r"^[A-Z]{3}$", help_text="ISO 4217 code, e.g. GBP.")
    total = MoneyField()
    eligible_total = MoneyField(required=False, allow_null=True)
    items = OrderItemInputSerializer(many=True, required=False, max_length=1000)
    channel = serializers.CharField(max_length=32, required=False, allow_blank=True)


ORDER_REQUEST = PolymorphicProxySerializer(
    component_name="OrderCreateInput",
    serializers=[OrderInputSerializer, GuestOrderInputSerializer],
    resource_type_field_name=None,
    many=False,
)


class CampaignBonusSerializer(serializers.Serializer):
    campaign = serializers.CharField()
    points = serializers.IntegerField()


class OrderPointsSerializer(serializers.Serializer):
    base = serializers.IntegerField()
    tier_bonus = serializers.IntegerField()
    campaign_bonus = CampaignBonusSerializer(many=True)
    total = serializers.IntegerField()


class BalanceSerializer(serializers.Serializer):
    available = serializers.IntegerField()
    pending = serializers.IntegerField()


class OrderMemberSerializer(serializers.Serializer):
    tier = serializers.CharField(allow_null=True, help_text="The member's tier code now.")
    points = BalanceSerializer()


class OrderOutputSerializer(serializers.Serializer):
    order_id = serializers.CharField()
    guest_key = serializers.CharField(
        required=False,
        help_text="A guest order's key; absent for a member's order and a guest order without one.",
    )
    points = OrderPointsSerializer()
    available_on = serializers.DateField(
        allow_null=True, help_text="When the points become spendable; null for a guest order."
    )
    member = OrderMemberSerializer(allow_null=True, help_text="null for a guest order.")


class RefundInputSerializer(StrictSerializer):
    refund_id = serializers.CharField(max_length=64)
    amount = MoneyField()
    refunded_at = AwareDateTimeField(required=False, validators=[_not_in_future])


class RefundMemberSerializer(serializers.Serializer):
    points = BalanceSerializer()


GUEST_POINTS = {"base": 0, "tier_bonus": 0, "campaign_bonus": [], "total": 0}


class RefundOutputSerializer(serializers.Serializer):
    refund_id = serializers.CharField()
    points_reversed = serializers.IntegerField()
    points_shortfall = serializers.IntegerField(
        help_text="Points that could not be reversed because negative balances are off "
        "(reported, never silent); 0 otherwise."
    )
    member = RefundMemberSerializer(allow_null=True, help_text="null for a guest order's refund.")


def _utc(moment: dt.datetime | None) -> dt.datetime | None:
    """Times go to the services in UTC: one instant, one fingerprint and one `available_at`,
    whatever zone the storefront wrote it in (aware arithmetic keeps the wall clock of its zone,
    so `placed_at + 14 days` across a DST change would otherwise depend on it)."""
    return None if moment is None else moment.astimezone(dt.UTC)


def _balance(account) -> dict:
    return {
        "available": account.available if account else 0,
        "pending": account.pending if account else 0,
    }


class OrderCreateView(APIView):
    """Record an order and earn its points; the same order again answers with the same result."""

    @extend_schema(
        operation_id="orders_create",
        request=ORDER_REQUEST,
        responses={
            201: OrderOutputSerializer,
            200: OrderOutputSerializer,
            **problems(
                {
                    400: ["validation_error"],
                    404: ["member_not_found"],
                    409: ["order_conflict"],
                    410: ["member_erased"],
                    422: ["currency_mismatch", "order_before_enrolment", "retro_credit_too_old"],
                }
            ),
        },
        tags=["orders"],
    )
    def post(self, request):
        if isinstance(request.data, dict) and "member" not in request.data:
            return self._guest(request)
        if isinstance(request.data, dict) and "guest_key" in request.data:
            raise serializers.ValidationError(
                {"guest_key": [gettext("An order has a member or a guest_key, not both.")]}
            )
        serializer = OrderInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        items = [{**item, "unit_price": str(item["unit_price"])} for item in data.get("items", [])]
        # The member is found with the order's own statement in the common case: 404 / 410
        # otherwise, as `member_get_for_api` answers.
        result = retry_on_contention(
            lambda: order_record_by_external_id(
                order_id=data["order_id"],
                member_external_id=data["member"],
                placed_at=_utc(data["placed_at"]),
                currency=data["currency"],
                total=data["total"],
                eligible_total=data.get("eligible_total"),
                items=items,
                channel=data.get("channel", ""),
                actor=Actor.api(request.api_key),
                retro_credit=data["retro_credit"],
            )
        )
        body = {
            "order_id": result.order.order_id,
            "points": {
                "base": result.base,
                "tier_bonus": result.tier_bonus,
                "campaign_bonus": [
                    {"campaign": code, "points": points} for code, points in result.campaign_bonus
                ],
                "total": result.total,
            },
            "available_on": timezone.localdate(result.available_at).isoformat(),
            "member": {
                "tier": result.tier_code or None,
                "points": _balance(result.account),
            },
        }
        # Already plain JSON values, in the shape `OrderOutputSerializer` declares (a test holds
        # them together): rendering it through the serializer would cost the hot path ~5%.
        return Response(body, status=HTTPStatus.CREATED if result.created else HTTPStatus.OK)

    def _guest(self, request):
        serializer = GuestOrderInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        items = [{**item, "unit_price": str(item["unit_price"])} for item in data.get("items", [])]
        result = retry_on_contention(
            lambda: guest_order_record(
                order_id=data["order_id"],
                guest_key=data.get("guest_key", ""),
                placed_at=_utc(data["placed_at"]),
                currency=data["currency"],
                total=data["total"],
                eligible_total=data.get("eligible_total"),
                items=items,
                channel=data.get("channel", ""),
            )
        )
        body = {"order_id": result.order.order_id}
        if result.order.guest_key:
            body["guest_key"] = result.order.guest_key
        body.update(points=GUEST_POINTS, available_on=None, member=None)
        return Response(body, status=HTTPStatus.CREATED if result.created else HTTPStatus.OK)


class RefundCreateView(APIView):
    """Record a (partial) refund of an order and reverse the points it had earned."""

    @extend_schema(
        operation_id="orders_refunds_create",
        request=RefundInputSerializer,
        responses={
            201: RefundOutputSerializer,
            200: RefundOutputSerializer,
            **problems(
                {
                    400: ["validation_error"],
                    404: ["order_not_found"],
                    409: ["refund_conflict"],
                    422: ["refund_exceeds_order"],
                }
            ),
        },
        tags=["orders"],
    )
    def post(self, request, order_id: str):
        serializer = RefundInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data

        def record():
            return refund_record(
                order_id=order_id,
                refund_id=data["refund_id"],
                amount=data["amount"],
                refunded_at=_utc(data.get("refunded_at")),
                actor=Actor.api(request.api_key),
            )

        def record_guest():
            return guest_refund_record(
                order_id=order_id,
                refund_id=data["refund_id"],
                amount=data["amount"],
                refunded_at=_utc(data.get("refunded_at")),
                actor=Actor.api(request.api_key),
            )

        try:
            result = retry_on_contention(record)
        except NotFound as not_found:
            # No member's order has this id: a guest order's refund, if a guest order has it.
            if not_found.code != "order_not_found":
                raise
            result = retry_on_contention(record_guest)
            if result is None:
                raise
        except IntegrityError:
            # The same refund_id sent at the same instant for an order of another member (other
            # members' refunds do not wait on each other's lock): the unique constraint held and
            # this attempt was rolled back; asked again, the service sees the stored refund and
            # answers as a repeat (200) or a conflict (409).
            result = record()
        if isinstance(result, GuestRefundResult):
            body = {
                "refund_id": result.refund.refund_id,
                "points_reversed": 0,
                "points_shortfall": 0,
                "member": None,
            }
            return Response(body, status=HTTPStatus.CREATED if result.created else HTTPStatus.OK)
        body = {
            "refund_id": result.refund.refund_id,
            "points_reversed": result.refund.points_reversed,
            "points_shortfall": result.refund.shortfall,
            "member": {"points": _balance(result.account)},
        }
        return Response(body, status=HTTPStatus.CREATED if result.created else HTTPStatus.OK)
