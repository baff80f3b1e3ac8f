"""Give the staff groups the memberships app's permissions (a literal snapshot of
memberships.roles)."""

from django.db import migrations

from members.roles import role_permissions_revoke, role_permissions_sync

_READ = [
    "view_plan",
    "view_membership",
    "view_membershipperiod",
    "view_membershipcharge",
    "view_perkusage",
]

ROLE_PERMISSIONS = {
    "Marketing": ["add_plan", "change_plan", *_READ],
    "Customer service": list(_READ),
    "Supervisor": [*_READ, "refund_membership"],
    "Operator": [],
}


def forwards(apps, schema_editor):
    role_permissions_sync(
        apps, schema_editor, app_label="memberships", role_permissions=ROLE_PERMISSIONS
    )


def backwards(apps, schema_editor):
    role_permissions_revoke(apps, schema_editor, app_label="memberships")


class Migration(migrations.Migration):
    dependencies = [
        ("memberships", "0001_initial"),
        ("members", "0002_roles"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
