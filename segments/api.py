"""Clubs in the storefront API: `PUT` / `DELETE /api/v1/members/{external_id}/clubs/{code}`.

Both are idempotent by nature: `PUT` answers the membership whether it was just made or already
there (`200`), `DELETE` answers `204` whether the member was in the club or not. Errors:
`member_not_found`, `club_not_found` (404), `member_erased` (410), `club_closed` and
`club_rules_not_met` (422).
"""

from __future__ import annotations

import re
from http import HTTPStatus

from django.utils.translation import gettext
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api.schema import problems
from config.errors import NotFound, ServiceError
from loyalty.api.members import (
    EXTERNAL_ID_PARAMETER,
    MemberClubSummarySerializer,
    external_id_checked,
)
from members.actors import Actor
from members.selectors import member_get_for_api
from segments.models import Club
from segments.selectors.clubs import club_summary
from segments.services.clubs import club_join, club_leave

CODE_RE = re.compile(r"^[-a-zA-Z0-9_]{1,64}$")
CODE_PARAMETER = OpenApiParameter(
    name="code",
    type=OpenApiTypes.STR,
    location=OpenApiParameter.PATH,
    pattern=CODE_RE.pattern,
    description="The club's code.",
)


MemberClubSerializer = MemberClubSummarySerializer


def _club(code: str) -> Club:
    if not CODE_RE.fullmatch(code):
        raise ServiceError(
            "validation_error",
            gettext("A club's code is 1–64 letters, digits, - or _."),
            status=HTTPStatus.BAD_REQUEST,
            field="code",
        )
    club = Club.objects.filter(code=code).first()
    if club is None:
        raise NotFound("club_not_found", gettext("No club with code %(code)s.") % {"code": code})
    return club


class MemberClubApi(APIView):
    @extend_schema(
        operation_id="members_clubs_join",
        summary="Join a club (idempotent)",
        description="The member joins the club if they are not in it yet and meet its join "
        "rules; either way the answer is the membership.",
        parameters=[EXTERNAL_ID_PARAMETER, CODE_PARAMETER],
        request=None,
        responses={
            200: MemberClubSerializer,
            **problems(
                {
                    400: ["validation_error"],
                    404: ["member_not_found", "club_not_found"],
                    410: ["member_erased"],
                    422: ["club_closed", "club_rules_not_met"],
                }
            ),
        },
        tags=["members"],
    )
    def put(self, request, external_id: str, code: str):
        member = member_get_for_api(external_id=external_id_checked(external_id))
        membership, _created = club_join(
            member=member, club=_club(code), actor=Actor.api(request.api_key)
        )
        return Response(MemberClubSerializer(club_summary(membership)).data)

    @extend_schema(
        operation_id="members_clubs_leave",
        summary="Leave a club (idempotent)",
        parameters=[EXTERNAL_ID_PARAMETER, CODE_PARAMETER],
        request=None,
        responses={
            204: None,
            **problems(
                {
                    400: ["validation_error"],
                    404: ["member_not_found", "club_not_found"],
                    410: ["member_erased"],
                }
            ),
        },
        tags=["members"],
    )
    def delete(self, request, external_id: str, code: str):
        member = member_get_for_api(external_id=external_id_checked(external_id))
        club_leave(member=member, club=_club(code), actor=Actor.api(request.api_key))
        return Response(status=HTTPStatus.NO_CONTENT)
