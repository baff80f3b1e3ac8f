"""Procrastinate's tables exist only on PostgreSQL.

Its migrations are PostgreSQL SQL (PL/pgSQL functions, enums, triggers). On SQLite, the embedded
development default, there is no queue at all: jobs run in-process after their transaction
commits (`jobs.api.defer`), so those migrations are recorded as applied without running.
"""

from __future__ import annotations

from django.db import connections


class JobsRouter:
    def allow_migrate(self, db, app_label, model_name=None, **hints):
        if app_label == "procrastinate":
            return connections[db].vendor == "postgresql"
        return None
