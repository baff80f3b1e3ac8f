"""Give the staff groups the campaigns app's permissions (a literal snapshot of campaigns.roles)."""

from django.db import migrations

from members.roles import role_permissions_revoke, role_permissions_sync

_READ = ["view_campaign", "view_campaignaward", "view_referral"]

ROLE_PERMISSIONS = {
    "Marketing": ["add_campaign", "change_campaign", *_READ],
    "Customer service": _READ,
    "Supervisor": _READ,
    "Operator": _READ,
}


def forwards(apps, schema_editor):
    role_permissions_sync(
        apps, schema_editor, app_label="campaigns", role_permissions=ROLE_PERMISSIONS
    )


def backwards(apps, schema_editor):
    role_permissions_revoke(apps, schema_editor, app_label="campaigns")


class Migration(migrations.Migration):
    dependencies = [
        ("campaigns", "0001_initial"),
        ("members", "0002_roles"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
