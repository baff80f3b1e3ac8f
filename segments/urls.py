"""Routes of the segments app's storefront API, included under `/api/v1/`."""

from django.urls import path

from segments.api import MemberClubApi

urlpatterns = [
    path(
        "members/<str:external_id>/clubs/<str:code>",
        MemberClubApi.as_view(),
        name="api-member-club",
    ),
]
