"""Give the staff groups the feedback app's permissions (a literal snapshot of feedback.roles)."""

from django.db import migrations

from members.roles import role_permissions_revoke, role_permissions_sync

ROLE_PERMISSIONS = {
    "Marketing": ["view_feedback"],
    "Customer service": ["view_feedback"],
    "Supervisor": ["view_feedback"],
    "Operator": [],
}


def forwards(apps, schema_editor):
    role_permissions_sync(
        apps, schema_editor, app_label="feedback", role_permissions=ROLE_PERMISSIONS
    )


def backwards(apps, schema_editor):
    role_permissions_revoke(apps, schema_editor, app_label="feedback")


class Migration(migrations.Migration):
    dependencies = [
        ("feedback", "0001_initial"),
        ("members", "0002_roles"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
