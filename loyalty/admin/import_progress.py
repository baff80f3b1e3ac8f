"""The admin import's progress and result page, while the import runs as a background job.

After the preview is confirmed, `loyalty.tasks.import_upload` is deferred (on SQLite it runs
in-process before the redirect) and the operator lands here. The page's address carries a signed
token naming the upload (its checksum) and when it was confirmed; the run is the first real run
of that file started since (at most one runs at a time). While it runs, a small static script
(static/backoffice/import_progress.js, no inline script: the admin has a CSP) polls the status
address every second and moves the progress bar, from the run record's `phase` and `progress`;
when the run has ended it reloads, and the page shows the result.
"""

from __future__ import annotations

import datetime as dt

from django.core import signing
from django.core.exceptions import PermissionDenied
from django.http import Http404, JsonResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from jobs.selectors import job_status, queue_available
from loyalty.models import ImportRun

TOKEN_SALT = "loyalty.admin.imports.progress"
TOKEN_MAX_AGE = 7 * 24 * 3600


def progress_token(*, checksum: str, name: str, since: dt.datetime, job_id: int | None) -> str:
    return signing.dumps(
        {"checksum": checksum, "name": name, "since": since.isoformat(), "job": job_id},
        salt=TOKEN_SALT,
    )


def _token_data(token: str) -> dict:
    try:
        return signing.loads(token, salt=TOKEN_SALT, max_age=TOKEN_MAX_AGE)
    except signing.BadSignature:
        raise Http404("This import's page has expired or is not valid.") from None


def _run(data: dict) -> ImportRun | None:
    since = dt.datetime.fromisoformat(data["since"])
    return (
        ImportRun.objects.filter(checksum=data["checksum"], dry_run=False, started_at__gte=since)
        .order_by("started_at", "id")
        .first()
    )


PHASES = {
    "read": gettext_lazy("Reading the file"),
    "check": gettext_lazy("Checking the rows"),
    "write": gettext_lazy("Writing orders and points"),
    "tiers": gettext_lazy("Evaluating tiers"),
}
STARTING = gettext_lazy("Starting")


def status(data: dict) -> dict:
    """What the page shows: `state` is waiting, running, finished or failed (did not start)."""
    run = _run(data)
    if run is None:
        job = job_status(data.get("job"))
        if job in ("failed", "cancelled", "aborted") or not queue_available():
            return {
                "state": "failed",
                "percent": 0,
                "text": _(
                    "The import did not start: see Jobs & workers and the worker's log, then "
                    "upload the file again."
                ),
            }
        return {
            "state": "waiting",
            "percent": 0,
            "text": _("Waiting for a worker to start the import…"),
        }
    if run.status == ImportRun.Status.RUNNING:
        phase = PHASES.get(run.phase, STARTING)
        return {
            "state": "running",
            "run": run.pk,
            "percent": run.progress,
            "text": _("%(phase)s: %(percent)s%% (%(rows)s rows read)")
            % {"phase": phase, "percent": run.progress, "rows": f"{run.rows_read:,}"},
        }
    return {"state": "finished", "run": run.pk, "percent": 100, "text": run.get_status_display()}


def progress_context(token: str) -> dict:
    data = _token_data(token)
    run = _run(data)
    current = status(data)
    return {
        "title": _("Importing %(name)s") % {"name": data["name"]},
        "name": data["name"],
        "state": current,
        "run": run if current["state"] == "finished" else None,
        "status_url": reverse("admin:loyalty_importrun_progress_status", args=[token]),
        "report_url": reverse("admin:loyalty_importrun_errors", args=[run.pk])
        if run is not None and run.error_report
        else "",
        "now": timezone.now(),
    }


def status_response(token: str) -> JsonResponse:
    return JsonResponse(status(_token_data(token)))


class ProgressViews:
    """The progress page and its status, for `ImportRunAdmin` (which provides `_page`)."""

    def progress_urls(self) -> list:
        view = self.admin_site.admin_view
        return [
            path(
                "progress/<str:token>/", view(self.progress_view), name="loyalty_importrun_progress"
            ),
            path(
                "progress/<str:token>/status/",
                view(self.progress_status_view),
                name="loyalty_importrun_progress_status",
            ),
        ]

    def progress_view(self, request, token: str):
        if not request.user.has_perm("loyalty.import_orders"):
            raise PermissionDenied
        template = "admin/loyalty/importrun/import_progress.html"
        return self._page(request, template, progress_context(token))

    def progress_status_view(self, request, token: str):
        if not request.user.has_perm("loyalty.import_orders"):
            raise PermissionDenied
        return status_response(token)
