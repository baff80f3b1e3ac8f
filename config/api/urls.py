"""The storefront API's routes, `/api/v1/...`. Each app contributes its own views."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from config.api.docs import ApiDocsView
from config.api.ping import PingView

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(permission_classes=[]), name="api-schema"),
    path(
        "docs/",
        ApiDocsView.as_view(url_name="api-schema"),
        name="api-docs",
    ),
    path("ping", PingView.as_view(), name="api-ping"),
    path("", include("loyalty.api.urls")),
    path("", include("rewards.urls")),
    path("", include("memberships.urls")),
    path("", include("segments.urls")),
    path("", include("campaigns.urls")),
    path("", include("events.urls")),
]
