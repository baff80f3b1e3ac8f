"""Give the staff groups the webhooks app's permissions (a literal snapshot of webhooks.roles)."""

from django.db import migrations

from members.roles import role_permissions_revoke, role_permissions_sync

_MANAGE = [
    "add_endpoint",
    "change_endpoint",
    "view_endpoint",
    "view_delivery",
    "view_deliveryattempt",
]

ROLE_PERMISSIONS = {
    "Marketing": _MANAGE,
    "Operator": _MANAGE,
}


def forwards(apps, schema_editor):
    role_permissions_sync(
        apps, schema_editor, app_label="webhooks", role_permissions=ROLE_PERMISSIONS
    )


def backwards(apps, schema_editor):
    role_permissions_revoke(apps, schema_editor, app_label="webhooks")


class Migration(migrations.Migration):
    dependencies = [
        ("webhooks", "0001_initial"),
        ("members", "0002_roles"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
