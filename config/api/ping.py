"""`GET /api/v1/ping`: an authenticated no-op, so a storefront can check its key and reach.

It does what every API request does (the key lookup, DRF's request cycle, a JSON answer) and
nothing else, which also makes it the ceiling `bench/api_earn.py` measures the stack against.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api.schema import problems


class PingView(APIView):
    @extend_schema(
        operation_id="ping",
        responses={
            200: inline_serializer("Pong", fields={"status": serializers.CharField()}),
            **problems(),
        },
        tags=["health"],
    )
    def get(self, request):
        return Response({"status": "ok"})
