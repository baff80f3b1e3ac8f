"""Routes of the loyalty app's storefront API, included under `/api/v1/` by `config.api.urls`."""

from django.urls import path

from loyalty.api.export import MemberExportView
from loyalty.api.members import MemberApi
from loyalty.api.orders import OrderCreateView, RefundCreateView
from loyalty.api.tiers import TierListApi
from loyalty.api.transactions import MemberTransactionsView

urlpatterns = [
    path("members/<str:external_id>", MemberApi.as_view(), name="api-member"),
    path(
        "members/<str:external_id>/transactions",
        MemberTransactionsView.as_view(),
        name="api-member-transactions",
    ),
    path("tiers", TierListApi.as_view(), name="api-tiers"),
    path("members/<str:external_id>/export", MemberExportView.as_view(), name="api-member-export"),
    path("orders", OrderCreateView.as_view(), name="api-orders"),
    path("orders/<str:order_id>/refunds", RefundCreateView.as_view(), name="api-order-refunds"),
]
