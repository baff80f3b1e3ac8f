"""Procrastinate's job pages in the admin, for Operators: browse jobs, retry or cancel them.

Procrastinate registers its own `ProcrastinateJobAdmin`; this replaces it with a subclass whose
retry, cancel and abort actions need `procrastinate.change_procrastinatejob` (the Operator role,
members/migrations/0004_job_roles.py) instead of being offered to anyone who may view the list.
The pages stay read-only (no add, change or delete). On SQLite there is no queue (jobs run
in-process after commit), so the pages are not registered there at all.
"""

from __future__ import annotations

from django.contrib import admin
from django.db import connection
from procrastinate.contrib.django import admin as procrastinate_admin
from procrastinate.contrib.django.models import ProcrastinateJob

RETRY_PERMISSION = "procrastinate.change_procrastinatejob"


class JobAdmin(procrastinate_admin.ProcrastinateJobAdmin):
    list_select_related = ()
    search_fields = ["task_name", "lock", "queueing_lock"]
    show_full_result_count = False
    list_per_page = 50

    def has_retry_permission(self, request) -> bool:
        return request.user.has_perm(RETRY_PERMISSION)

    def get_actions(self, request):
        actions = super().get_actions(request)
        if not self.has_retry_permission(request):
            for name in ("retry", "cancel", "abort"):
                actions.pop(name, None)
        return actions


if admin.site.is_registered(ProcrastinateJob):
    admin.site.unregister(ProcrastinateJob)
if connection.vendor == "postgresql":
    admin.site.register(ProcrastinateJob, JobAdmin)
