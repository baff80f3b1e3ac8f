"""Routes of the campaigns app's storefront API, included under `/api/v1/`."""

from django.urls import path

from campaigns.api import ActivityApi

urlpatterns = [
    path(
        "members/<str:external_id>/activities", ActivityApi.as_view(), name="api-member-activities"
    ),
]
