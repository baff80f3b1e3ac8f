"""`GET /api/v1/tiers`: the tier ladder for the storefront's "our tiers" page.

Read-only and the same for every member: each tier's code, name, rank (0 is the entry tier),
the threshold in the ladder's metric (`metric`: qualifying spend in the program's currency,
`threshold`; or a whole number of orders or growth value, `threshold_value`), the earn
multiplier and its perks.
Not paginated: a ladder has a handful of rungs, and the page shows them all at once.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api.schema import problems
from loyalty.api.members import MemberPerkSerializer
from loyalty.models.program import TierMetric
from loyalty.selectors.program import program_settings
from loyalty.selectors.tier_metric import ladder_metric
from loyalty.selectors.tiers import tiers_published

METRICS = [m.value for m in TierMetric]


class TierSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    rank = serializers.IntegerField(help_text="0 is the entry tier every member starts in.")
    threshold = serializers.DecimalField(
        max_digits=14,
        decimal_places=2,
        allow_null=True,
        help_text="Qualifying spend in the window that reaches this tier (program currency); "
        "null when the ladder counts orders or growth value.",
    )
    threshold_value = serializers.IntegerField(
        allow_null=True,
        min_value=0,
        help_text="Orders or growth value in the window that reach this tier; null when the "
        "ladder counts spend.",
    )
    multiplier = serializers.DecimalField(max_digits=6, decimal_places=2)
    description = serializers.CharField(allow_blank=True)
    perks = MemberPerkSerializer(many=True)


class TierListSerializer(serializers.Serializer):
    currency = serializers.CharField(help_text="The program's currency (spend thresholds).")
    metric = serializers.ChoiceField(
        choices=METRICS, help_text="What the thresholds count in the qualification window."
    )
    results = TierSerializer(many=True, help_text="Entry tier first; empty without a ladder.")


class TierListApi(APIView):
    @extend_schema(
        operation_id="tiers_list",
        summary="The tier ladder with thresholds, multipliers and perks",
        responses={200: TierListSerializer, **problems()},
        tags=["tiers"],
    )
    def get(self, request):
        settings = program_settings()
        metric = ladder_metric(settings)
        body = {
            "currency": settings.currency,
            "metric": metric.name,
            "results": tiers_published(metric=metric),
        }
        return Response(TierListSerializer(body).data)
