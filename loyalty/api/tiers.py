"""`GET /api/v1/tiers`: the tier ladder for the storefront's "our tiers" page.

Read-only and the same for every member: each tier's code, name, rank (0 is the entry tier),
the qualifying-spend threshold in the program's currency, the earn multiplier and its perks.
Not paginated: a ladder has a handful of rungs, and the page shows them all at once.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api.schema import problems
from loyalty.api.members import MemberPerkSerializer
from loyalty.selectors.program import program_settings
from loyalty.selectors.tiers import tiers_published


class TierSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    rank = serializers.IntegerField(help_text="0 is the entry tier every member starts in.")
    threshold = serializers.DecimalField(
        max_digits=14,
        decimal_places=2,
        help_text="Qualifying spend in the window that reaches this tier (program currency).",
    )
    multiplier = serializers.DecimalField(max_digits=6, decimal_places=2)
    description = serializers.CharField(allow_blank=True)
    perks = MemberPerkSerializer(many=True)


class TierListSerializer(serializers.Serializer):
    currency = serializers.CharField(help_text="The currency of the thresholds.")
    results = TierSerializer(many=True, help_text="Entry tier first; empty without a ladder.")


class TierListApi(APIView):
    @extend_schema(
        operation_id="tiers_list",
        summary="The tier ladder with thresholds, multipliers and perks",
        responses={200: TierListSerializer, **problems()},
        tags=["tiers"],
    )
    def get(self, request):
        body = {"currency": program_settings().currency, "results": tiers_published()}
        return Response(TierListSerializer(body).data)
