"""Give the staff groups the rewards app's permissions.

A literal snapshot of `rewards.roles` at the time of writing: a later change to the roles is a new
migration, never an edit of this one. Redemptions and stock movements: no add, change or delete.
"""

from django.db import migrations

from members.roles import role_permissions_revoke, role_permissions_sync

_VIEW = ["view_reward", "view_redemption", "view_stockmovement"]
_SERVICE = [*_VIEW, "cancel_redemption"]

ROLE_PERMISSIONS = {
    "Marketing": ["add_reward", "change_reward", "delete_reward", *_VIEW],
    "Customer service": _SERVICE,
    "Supervisor": _SERVICE,
    "Operator": [*_VIEW, "export_redemption"],
}


def forwards(apps, schema_editor):
    role_permissions_sync(
        apps, schema_editor, app_label="rewards", role_permissions=ROLE_PERMISSIONS
    )


def backwards(apps, schema_editor):
    role_permissions_revoke(apps, schema_editor, app_label="rewards")


class Migration(migrations.Migration):
    dependencies = [
        ("rewards", "0001_initial"),
        ("members", "0002_roles"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
