"""`/api/v1/members/{external_id}`: enrol or update (PUT), read the summary (GET), erase (DELETE).

One handler per operation, each with its own input and output serializers; the rules live in
`members.services` (enrolment, update, erasure) and the summary in `loyalty.selectors.members`.

Choices where the contract is silent (docs/api.md):
- An `external_id` outside 1–64 of `A–Z a–z 0–9 - _ . : @` is `400 validation_error` on every
  method (it can name no member).
- PUT is idempotent: sending an enrolment again (a retry after a lost response) updates nothing
  and answers 200. `referral_code` and `enrolled_at` are accepted on an update only when they
  equal what is stored; a different value is `400 validation_error` (they are set at enrolment).
  Two PUTs racing to enrol the same new id: one enrols (201), the other updates (200).
- DELETE of an already erased member answers 204 again (erasure is idempotent); reads answer 410.
"""

from __future__ import annotations

import re
from http import HTTPStatus

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api.schema import problems
from config.api.serializers import AwareDateTimeField, StrictSerializer
from config.errors import Conflict, Gone, NotFound, ServiceError
from loyalty.models.program import TierMetric
from loyalty.selectors.members import member_summary
from loyalty.services.enrolment import program_member_enrol
from members import services as member_services
from members.actors import Actor
from members.countries import COUNTRY_CODES
from members.erasure import external_id_is_personal, external_id_pseudonym
from members.models import Language, Member
from members.selectors import member_get_for_api

EXTERNAL_ID_RE = re.compile(r"[A-Za-z0-9\-_.:@]{1,64}")

# On the 204 of an erasure whose external id was an email: the pseudonym that replaced it.
PSEUDONYM_HEADER = "External-Id-Replaced-By"

EXTERNAL_ID_PARAMETER = OpenApiParameter(
    name="external_id",
    type=OpenApiTypes.STR,
    location=OpenApiParameter.PATH,
    pattern=r"^[A-Za-z0-9\-_.:@]{1,64}$",
    description="The storefront's own customer id: 1–64 letters, digits and `-_.:@`.",
)


def external_id_checked(external_id: str) -> str:
    if not EXTERNAL_ID_RE.fullmatch(external_id):
        raise ServiceError(
            "validation_error",
            "external_id must be 1–64 characters: letters, digits and -_.:@",
            status=HTTPStatus.BAD_REQUEST,
            field="external_id",
        )
    return external_id


# --- input ------------------------------------------------------------------------------------


class MemberPutSerializer(StrictSerializer):
    """Enrol (`email` required) or update (only the fields sent change); no other field allowed."""

    email = serializers.EmailField(max_length=254, required=False, help_text="Required to enrol.")
    first_name = serializers.CharField(max_length=150, required=False, allow_blank=True)
    last_name = serializers.CharField(max_length=150, required=False, allow_blank=True)
    phone = serializers.CharField(max_length=32, required=False, allow_blank=True)
    birth_date = serializers.DateField(required=False, allow_null=True)
    marketing_consent = serializers.BooleanField(required=False)
    referral_code = serializers.CharField(
        max_length=16,
        required=False,
        help_text="The referrer's referral code. Enrolment only.",
    )
    enrolled_at = AwareDateTimeField(
        required=False,
        help_text="When the member joined, for backfills (default: now). Enrolment only.",
    )
    country = serializers.ChoiceField(
        choices=sorted(COUNTRY_CODES),
        required=False,
        allow_blank=True,
        help_text="The member's country: an ISO 3166-1 alpha-2 code in upper case (`GB`); empty: "
        "unknown.",
    )
    locale = serializers.ChoiceField(
        choices=Language.values,
        required=False,
        allow_blank=True,
        help_text="The language of the member's sentences (tier progress, suggestions); empty: "
        "the program's language.",
    )

    def validate_birth_date(self, value):
        if value is not None and value > timezone.localdate():
            raise serializers.ValidationError("A birth date cannot be in the future.")
        return value

    def validate_enrolled_at(self, value):
        if value > timezone.now():
            raise serializers.ValidationError("enrolled_at cannot be in the future.")
        return value


# --- output -----------------------------------------------------------------------------------


class MemberTierSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    since = serializers.DateTimeField()
    held_until = serializers.DateTimeField(allow_null=True)
    multiplier = serializers.DecimalField(max_digits=6, decimal_places=2)
    override_until = serializers.DateField(
        allow_null=True, help_text="Last day of a staff override (inclusive); null without one."
    )


class MemberPointsExpiringSerializer(serializers.Serializer):
    points = serializers.IntegerField()
    on = serializers.DateField(help_text="The day these points expire (program time zone).")


class MemberPointsSerializer(serializers.Serializer):
    available = serializers.IntegerField(help_text="Spendable now.")
    pending = serializers.IntegerField(help_text="Earned, not yet spendable (return window).")
    lifetime_earned = serializers.IntegerField()
    expiring = MemberPointsExpiringSerializer(
        many=True, help_text="Available points expiring in the next 90 days, per day."
    )


class MemberPerkSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    kind = serializers.CharField()
    value = serializers.CharField(allow_null=True)


SPEND_HELP = "Money (program currency) when the ladder counts spend; else null."
COUNT_HELP = "A whole number when the ladder counts orders or growth value; else null."


class MemberProgressNextTierSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    threshold = serializers.DecimalField(
        max_digits=14, decimal_places=2, allow_null=True, help_text=SPEND_HELP
    )
    remaining = serializers.DecimalField(
        max_digits=14, decimal_places=2, allow_null=True, help_text=SPEND_HELP
    )
    threshold_value = serializers.IntegerField(allow_null=True, min_value=0, help_text=COUNT_HELP)
    remaining_value = serializers.IntegerField(allow_null=True, min_value=0, help_text=COUNT_HELP)
    by = serializers.DateField(
        allow_null=True,
        help_text="Last day `remaining` holds without new orders (null: nothing counts yet).",
    )
    perks = MemberPerkSerializer(many=True, help_text="What the next tier brings.")


class MemberProgressKeepTierSerializer(serializers.Serializer):
    threshold = serializers.DecimalField(
        max_digits=14, decimal_places=2, allow_null=True, help_text=SPEND_HELP
    )
    remaining = serializers.DecimalField(
        max_digits=14, decimal_places=2, allow_null=True, help_text=SPEND_HELP
    )
    threshold_value = serializers.IntegerField(allow_null=True, min_value=0, help_text=COUNT_HELP)
    remaining_value = serializers.IntegerField(allow_null=True, min_value=0, help_text=COUNT_HELP)
    by = serializers.DateField()


class MemberProgressSerializer(serializers.Serializer):
    metric = serializers.ChoiceField(
        choices=[m.value for m in TierMetric],
        help_text="What the ladder counts in the window: `qualifying_spend` (money: "
        "`qualifying_spend`, `threshold`, `remaining`), `orders` or `growth_value` (whole "
        "numbers: `qualifying_value`, `threshold_value`, `remaining_value`).",
    )
    currency = serializers.CharField()
    window_start = serializers.DateField()
    window_end = serializers.DateField()
    qualifying_spend = serializers.DecimalField(
        max_digits=14, decimal_places=2, allow_null=True, help_text=SPEND_HELP
    )
    qualifying_value = serializers.IntegerField(allow_null=True, min_value=0, help_text=COUNT_HELP)
    next_tier = MemberProgressNextTierSerializer(allow_null=True)
    keep_tier = MemberProgressKeepTierSerializer(allow_null=True)
    explanation = serializers.CharField()


class MemberPaidMembershipSerializer(serializers.Serializer):
    """The member's paid membership now (the `memberships` app fills it: `docs/memberships.md`)."""

    id = serializers.IntegerField()
    plan = serializers.CharField(help_text="The plan's code.")
    name = serializers.CharField(help_text="The plan's name.")
    status = serializers.ChoiceField(
        choices=["trialing", "active", "past_due", "cancelled"],
        help_text="`past_due`: a renewal failed, perks kept until `grace_until`.",
    )
    current_period_end = serializers.DateTimeField()
    renews_on = serializers.DateField(
        allow_null=True,
        help_text="The renewal date (program time zone); null once cancelled or past due.",
    )
    ends_at = serializers.DateTimeField(
        allow_null=True, help_text="When a cancelled membership's perks end; else null."
    )
    grace_until = serializers.DateTimeField(
        allow_null=True, help_text="Past due: the perks end then unless renewed; else null."
    )
    perks = MemberPerkSerializer(many=True, help_text="The plan's perks (beside the tier's).")


class MemberClubSummarySerializer(serializers.Serializer):
    """A club the member is in (the `segments` app fills them: `docs/segments.md`)."""

    code = serializers.CharField()
    name = serializers.CharField()
    joined_at = serializers.DateTimeField()
    perks = MemberPerkSerializer(many=True, help_text="The club's perks.")


class MemberSummarySerializer(serializers.Serializer):
    external_id = serializers.CharField()
    email = serializers.EmailField()
    first_name = serializers.CharField()
    last_name = serializers.CharField()
    phone = serializers.CharField()
    birth_date = serializers.DateField(allow_null=True)
    marketing_consent = serializers.BooleanField()
    country = serializers.CharField(
        help_text="ISO 3166-1 alpha-2 code (`GB`), or empty when unknown."
    )
    status = serializers.ChoiceField(choices=Member.Status.choices)
    enrolled_at = serializers.DateTimeField()
    referral_code = serializers.CharField(help_text="This member's code, to refer others.")
    locale = serializers.ChoiceField(
        choices=Language.values,
        help_text="The language the member's sentences are in: their own, else the program's.",
    )
    tier = MemberTierSerializer(allow_null=True, help_text="Null while the member holds no tier.")
    points = MemberPointsSerializer()
    progress = MemberProgressSerializer(allow_null=True)
    perks = MemberPerkSerializer(many=True)
    membership = MemberPaidMembershipSerializer(
        allow_null=True, help_text="The paid membership whose perks the member holds now, or null."
    )
    clubs = MemberClubSummarySerializer(
        many=True, help_text="The clubs the member joined, with their perks (beside the tier's)."
    )


def _summary_response(member: Member, status: int = HTTPStatus.OK) -> Response:
    return Response(MemberSummarySerializer(member_summary(member)).data, status=status)


# --- views ------------------------------------------------------------------------------------


class MemberApi(APIView):
    @extend_schema(
        operation_id="members_put",
        summary="Enrol or update a member",
        description=(
            "Enrols the member (201) when the external id is new, else updates the fields sent "
            "(200); fields left out are unchanged. `email` is required to enrol. `referral_code` "
            "and `enrolled_at` are set at enrolment only. Sending the same enrolment again "
            "answers 200 and changes nothing."
        ),
        tags=["members"],
        parameters=[EXTERNAL_ID_PARAMETER],
        request=MemberPutSerializer,
        responses={
            201: MemberSummarySerializer,
            200: MemberSummarySerializer,
            **problems(
                {
                    400: ["validation_error", "malformed_json"],
                    409: ["email_taken"],
                    410: ["member_erased"],
                    503: ["database_busy"],
                }
            ),
        },
    )
    def put(self, request, external_id: str):
        external_id = external_id_checked(external_id)
        serializer = MemberPutSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        member, created = _enrol_or_update(
            external_id=external_id,
            fields=serializer.validated_data,
            actor=Actor.api(request.api_key),
        )
        return _summary_response(member, status=HTTPStatus.CREATED if created else HTTPStatus.OK)

    @extend_schema(
        operation_id="members_get",
        summary="Read a member's summary",
        description="Identity, points (with what expires in the next 90 days), tier, progress "
        "and perks.",
        tags=["members"],
        parameters=[EXTERNAL_ID_PARAMETER],
        responses={
            200: MemberSummarySerializer,
            **problems(
                {400: ["validation_error"], 404: ["member_not_found"], 410: ["member_erased"]}
            ),
        },
    )
    def get(self, request, external_id: str):
        member = member_get_for_api(external_id=external_id_checked(external_id))
        return _summary_response(member)

    @extend_schema(
        operation_id="members_erase",
        summary="Erase a member's personal data",
        description=(
            "Right to erasure: blanks the member's personal data; the ledger stays whole and "
            "anonymous. Later reads answer `410 member_erased`; erasing again answers 204. An "
            "external id that is an email is replaced by a pseudonym, sent back in the "
            "`External-Id-Replaced-By` header."
        ),
        tags=["members"],
        parameters=[
            EXTERNAL_ID_PARAMETER,
            OpenApiParameter(
                name=PSEUDONYM_HEADER,
                type=OpenApiTypes.STR,
                location=OpenApiParameter.HEADER,
                response=[204],
                description="Only when the external id was an email (personal data): the "
                "stable pseudonym that replaced it. Requests with the old id answer 410.",
            ),
        ],
        responses={
            204: None,
            **problems(
                {400: ["validation_error"], 404: ["member_not_found"], 503: ["database_busy"]}
            ),
        },
    )
    def delete(self, request, external_id: str):
        try:
            member = member_get_for_api(external_id=external_id_checked(external_id))
        except Gone:
            headers = {}
            if external_id_is_personal(external_id):
                headers[PSEUDONYM_HEADER] = external_id_pseudonym(external_id)
            return Response(status=HTTPStatus.NO_CONTENT, headers=headers)
        erased = member_services.member_erase(member=member, actor=Actor.api(request.api_key))
        headers = {}
        if erased.external_id != member.external_id:
            # The external id was an email: the storefront learns the pseudonym that replaced it.
            headers[PSEUDONYM_HEADER] = erased.external_id
        return Response(status=HTTPStatus.NO_CONTENT, headers=headers)


def _enrol_or_update(*, external_id: str, fields: dict, actor: Actor) -> tuple[Member, bool]:
    """The member after this PUT, and whether it enrolled them. Erased: `410 member_erased`."""
    try:
        member = member_get_for_api(external_id=external_id)
    except NotFound:
        try:
            enrolment = {**fields, "email": fields.get("email", "")}
            # Through the program so campaigns (sign-up bonus, referral) take part.
            member = program_member_enrol(external_id=external_id, actor=actor, **enrolment)
            return member, True
        except Conflict as conflict:
            # Lost a race to a twin PUT that enrolled this id a moment ago (the service reports
            # `email_taken` when both sent the same email): then this PUT is an update of that
            # member. Otherwise the conflict stands.
            try:
                member = member_get_for_api(external_id=external_id)
            except NotFound:
                raise conflict from None
    return _update(member, fields=fields, actor=actor), False


def _update(member: Member, *, fields: dict, actor: Actor) -> Member:
    """Apply a PUT to an existing member; the enrolment-only fields must match what is stored."""
    fields = dict(fields)
    referral_code = fields.pop("referral_code", None)
    if referral_code is not None:
        referrer_code = member.referred_by.referral_code if member.referred_by_id else None
        if referral_code.strip().upper() != referrer_code:
            raise ServiceError(
                "validation_error",
                "referral_code can only be given at enrolment.",
                status=HTTPStatus.BAD_REQUEST,
                field="referral_code",
            )
    enrolled_at = fields.pop("enrolled_at", None)
    if enrolled_at is not None and enrolled_at != member.enrolled_at:
        raise ServiceError(
            "validation_error",
            "enrolled_at can only be given at enrolment.",
            status=HTTPStatus.BAD_REQUEST,
            field="enrolled_at",
        )
    return member_services.member_update(member=member, actor=actor, **fields)
