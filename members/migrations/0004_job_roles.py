"""Operators see the job queue and its workers, and retry or cancel jobs (Procrastinate's admin).

A literal snapshot of `members.roles.JOB_ROLE_PERMISSIONS`. Procrastinate's models are read-only
in the admin; `change_procrastinatejob` is what the retry and cancel actions require
(`jobs.admin`).
"""

from django.db import migrations

from members.roles import role_permissions_revoke, role_permissions_sync

ROLE_PERMISSIONS = {
    "Operator": [
        "view_procrastinatejob",
        "change_procrastinatejob",
        "view_procrastinateevent",
        "view_procrastinateworker",
        "view_procrastinateperiodicdefer",
    ],
}


def forwards(apps, schema_editor):
    role_permissions_sync(
        apps, schema_editor, app_label="procrastinate", role_permissions=ROLE_PERMISSIONS
    )


def backwards(apps, schema_editor):
    role_permissions_revoke(apps, schema_editor, app_label="procrastinate")


class Migration(migrations.Migration):
    dependencies = [
        ("members", "0003_idempotency_record"),
        ("procrastinate", "0041_post_retry_failed_job"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
