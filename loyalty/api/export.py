"""`GET /api/v1/members/{external_id}/export`: the subject-access export (`members.access`).

Everything the program holds about the member, as one JSON document: profile, consent, audit
trail, account, postings, lots, orders, refunds, tier and its history, adjustments, feedback,
redemptions and coupons, campaign awards and referrals. `404 member_not_found`,
`410 member_erased` (nothing personal is left to export).
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api.schema import problems
from loyalty.api.members import EXTERNAL_ID_PARAMETER, external_id_checked
from members.access import member_data_export
from members.selectors import member_get_for_api


class MemberExportSerializer(serializers.Serializer):
    """The export's sections (for the schema; docs/privacy.md describes each)."""

    format_version = serializers.IntegerField()
    exported_at = serializers.DateTimeField()
    member = serializers.JSONField(help_text="The profile: identity and contact details.")
    consent = serializers.JSONField(help_text="Marketing consent now and its changes.")
    audit_entries = serializers.JSONField(help_text="Every change recorded about the member.")
    account = serializers.JSONField(help_text="Points available, pending, lifetime earned.")
    postings = serializers.JSONField(help_text="The ledger, oldest first.")
    lots = serializers.JSONField(help_text="Credits with what remains of each.")
    orders = serializers.JSONField()
    refunds = serializers.JSONField()
    tier = serializers.JSONField(help_text="The tier held (null before any).")
    tier_history = serializers.JSONField()
    adjustments = serializers.JSONField(help_text="Staff adjustments and their decisions.")
    feedback = serializers.JSONField(help_text="Scores and comments the member sent.")
    segments = serializers.JSONField(
        help_text="Statistics and RFM group as of the nightly refresh, products bought, clubs."
    )
    redemptions = serializers.JSONField(help_text="Rewards redeemed, with their coupons.")
    campaign_awards = serializers.JSONField()
    campaign_holdouts = serializers.JSONField(
        help_text="Campaigns that held the member out of their bonus, to measure its lift."
    )
    referrals = serializers.JSONField(help_text="Referrals made and received.")


class MemberExportView(APIView):
    @extend_schema(
        operation_id="members_export",
        summary="Export everything held about a member (subject access)",
        description="One JSON document with every section the program holds about the member "
        "(docs/privacy.md). Money as strings, instants in UTC.",
        tags=["members"],
        parameters=[EXTERNAL_ID_PARAMETER],
        responses={
            200: MemberExportSerializer,
            **problems(
                {400: ["validation_error"], 404: ["member_not_found"], 410: ["member_erased"]}
            ),
        },
    )
    def get(self, request, external_id: str):
        member = member_get_for_api(external_id=external_id_checked(external_id))
        return Response(member_data_export(member=member))
