"""Top-level routes: the admin and its dashboard, the language switch, the API, the health check."""

from django.contrib import admin
from django.urls import include, path
from django.utils.translation import gettext_lazy as _

from analytics.dashboard import dashboard_view
from analytics.exports import liability_csv_view
from config.health import healthz
from loyalty.admin.jobs import jobs_view

admin.site.site_header = _("Loyalty Back Office")
admin.site.site_title = _("Loyalty Back Office")
admin.site.index_title = _("Program administration")
# "View site": there is no storefront here; the API's interactive docs are the public face.
admin.site.site_url = "/api/v1/docs/"

urlpatterns = [
    # Before the admin's own routes, whose catch-all would answer for it; inside its login.
    path("admin/dashboard/", admin.site.admin_view(dashboard_view), name="admin-dashboard"),
    path(
        "admin/dashboard/liability.csv",
        admin.site.admin_view(liability_csv_view),
        name="admin-dashboard-liability-csv",
    ),
    path("admin/jobs/", admin.site.admin_view(jobs_view), name="admin-jobs"),
    path("admin/", admin.site.urls),
    # Django's set_language view: the admin header's language switcher posts here.
    path("i18n/", include("django.conf.urls.i18n")),
    path("api/v1/", include("config.api.urls")),
    path("healthz", healthz, name="healthz"),
    # Member messages: the one-click unsubscribe link (no login); the ESP's tracking webhooks.
    path("messages/", include("messaging.urls")),
    path("anymail/", include("anymail.urls")),
]

# Under /api/ even Django's own 404 and 500 pages are problem+json (config.api.errors).
handler403 = "config.forbidden.permission_denied"
handler404 = "config.api.errors.not_found"
handler500 = "config.api.errors.server_error"
