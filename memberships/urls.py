"""Routes of the memberships app's storefront API, included under `/api/v1/`."""

from django.urls import path

from memberships.api import (
    MembershipCancelApi,
    MembershipRefundApi,
    MembershipRenewApi,
    MembershipsApi,
    PerkUsageApi,
)

_ONE = "members/<str:external_id>/memberships/<int:membership_id>"

urlpatterns = [
    path(
        "members/<str:external_id>/memberships",
        MembershipsApi.as_view(),
        name="api-member-memberships",
    ),
    path(f"{_ONE}/renew", MembershipRenewApi.as_view(), name="api-membership-renew"),
    path(f"{_ONE}/cancel", MembershipCancelApi.as_view(), name="api-membership-cancel"),
    path(f"{_ONE}/refund", MembershipRefundApi.as_view(), name="api-membership-refund"),
    path(f"{_ONE}/perk-usage", PerkUsageApi.as_view(), name="api-membership-perk-usage"),
]
