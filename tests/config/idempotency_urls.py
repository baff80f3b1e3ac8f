"""A tests-only URLconf: small idempotent endpoints that do real, countable work.

`POST /t/members/<external_id>/notes {"note": "..."}` appends an audit entry to the member (work
with no natural uniqueness, so only the idempotency mechanism can stop it happening twice) and
answers 201. `"refuse": true` makes it refuse with `422 insufficient_points` AFTER writing, to prove
the refusal leaves nothing behind; `"answer": 409` returns (not raises) that status instead of 201.
`"wait": true` parks it between the work and the answer until the
test sets `RELEASE`, so a test can fire the twin while the first still runs.
"""

from __future__ import annotations

import threading
import time

from django.urls import path
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api.idempotency import idempotent
from config.api.serializers import StrictSerializer
from config.errors import ServiceError
from members.actors import Actor
from members.selectors import member_get_for_api
from members.services import audit_record

ENTERED = threading.Event()
RELEASE = threading.Event()


class NoteSerializer(StrictSerializer):
    note = serializers.CharField(max_length=100)
    refuse = serializers.BooleanField(default=False)
    wait = serializers.BooleanField(default=False)
    pause = serializers.FloatField(default=0, min_value=0, max_value=2)
    answer = serializers.IntegerField(default=201, min_value=200, max_value=599)


class NoteApi(APIView):
    @idempotent
    def post(self, request, external_id: str):
        data = NoteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        member = member_get_for_api(external_id=external_id)
        entry = audit_record(
            actor=Actor.api(request.api_key),
            action="test.note",
            target=member,
            member=member,
            reason=data.validated_data["note"],
        )
        if data.validated_data["wait"]:
            ENTERED.set()
            RELEASE.wait(timeout=10)
        time.sleep(data.validated_data["pause"])
        if data.validated_data["refuse"]:
            raise ServiceError("insufficient_points", "Not enough points.")
        return Response(
            {"note_id": entry.pk, "note": entry.reason}, status=data.validated_data["answer"]
        )


class PingApi(APIView):
    @idempotent
    def post(self, request):
        return Response({"pong": True})


urlpatterns = [
    path("t/members/<str:external_id>/notes", NoteApi.as_view()),
    path("t/ping", PingApi.as_view()),
]
