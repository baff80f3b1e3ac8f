"""Top-level routes: the admin, the storefront API, the health check."""

from django.contrib import admin
from django.urls import include, path

from config.health import healthz

admin.site.site_header = "Loyalty Back Office"
admin.site.site_title = "Loyalty Back Office"
admin.site.index_title = "Program administration"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include("config.api.urls")),
    path("healthz", healthz, name="healthz"),
]

# Under /api/ even Django's own 404 and 500 pages are problem+json (config.api.errors).
handler404 = "config.api.errors.not_found"
handler500 = "config.api.errors.server_error"
