"""Routes of the campaigns app's storefront API, included under `/api/v1/`."""

from django.urls import path

from campaigns.api import ActivityApi
from campaigns.api_feedback import FeedbackApi
from campaigns.api_storefront import MemberReferralsApi, WaysToEarnApi

urlpatterns = [
    path(
        "members/<str:external_id>/activities", ActivityApi.as_view(), name="api-member-activities"
    ),
    path(
        "members/<str:external_id>/referrals",
        MemberReferralsApi.as_view(),
        name="api-member-referrals",
    ),
    path("members/<str:external_id>/feedback", FeedbackApi.as_view(), name="api-member-feedback"),
    path("ways-to-earn", WaysToEarnApi.as_view(), name="api-ways-to-earn"),
]
