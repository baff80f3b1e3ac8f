"""Everyone who reads awards reads the holdout log too (a literal snapshot of campaigns.roles)."""

from django.db import migrations

from members.roles import role_permissions_sync

_READ = ["view_campaign", "view_campaignaward", "view_campaignholdout", "view_referral"]

ROLE_PERMISSIONS = {
    "Marketing": ["add_campaign", "change_campaign", *_READ],
    "Customer service": _READ,
    "Supervisor": _READ,
    "Operator": _READ,
}
BEFORE = {
    role: [p for p in permissions if p != "view_campaignholdout"]
    for role, permissions in ROLE_PERMISSIONS.items()
}


def forwards(apps, schema_editor):
    role_permissions_sync(
        apps, schema_editor, app_label="campaigns", role_permissions=ROLE_PERMISSIONS
    )


def backwards(apps, schema_editor):
    role_permissions_sync(apps, schema_editor, app_label="campaigns", role_permissions=BEFORE)


class Migration(migrations.Migration):
    dependencies = [
        ("campaigns", "0008_holdout"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
