"""Routes of the rewards app's storefront API, included under `/api/v1/` by `config.api.urls`."""

from django.urls import path

from rewards.api import (
    MemberRedemptionCreateApi,
    RedemptionCancelApi,
    RedemptionUseApi,
    RewardListApi,
)
from rewards.api_coupons import CouponCheckApi, MemberCouponListApi
from rewards.api_suggestions import MemberSuggestionsApi

urlpatterns = [
    path(
        "members/<str:external_id>/coupons",
        MemberCouponListApi.as_view(),
        name="api-member-coupons",
    ),
    path(
        "members/<str:external_id>/suggestions",
        MemberSuggestionsApi.as_view(),
        name="api-member-suggestions",
    ),
    path("coupons/<str:code>", CouponCheckApi.as_view(), name="api-coupon"),
    path("rewards", RewardListApi.as_view(), name="api-rewards"),
    path(
        "members/<str:external_id>/redemptions",
        MemberRedemptionCreateApi.as_view(),
        name="api-member-redemptions",
    ),
    path(
        "redemptions/<str:redemption_id>/use",
        RedemptionUseApi.as_view(),
        name="api-redemption-use",
    ),
    path(
        "redemptions/<str:redemption_id>/cancel",
        RedemptionCancelApi.as_view(),
        name="api-redemption-cancel",
    ),
]
