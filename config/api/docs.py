"""The interactive API docs (`/api/v1/docs/`): Swagger UI from our own static files.

Swagger UI's files come from drf-spectacular-sidecar (pinned), so the page works offline, and its
start-up script is served by the same view (`?script=`) instead of inline, so the
Content-Security-Policy (`script-src 'self'`, no inline scripts) holds here too. The page also
links the raw schema for readers without JavaScript.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularSwaggerSplitView


class ApiDocsView(SpectacularSwaggerSplitView):
    template_name = "api/swagger_ui.html"
    permission_classes = []

    @extend_schema(exclude=True)
    def get(self, request, *args, **kwargs):
        response = super().get(request, *args, **kwargs)
        if request.GET.get("script") is None:
            response.data["schema_url"] = self._get_schema_url(request)
        return response
