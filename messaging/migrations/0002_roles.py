"""Give the staff groups the messaging app's permissions (a literal snapshot of messaging.roles)."""

from django.db import migrations

from members.roles import role_permissions_revoke, role_permissions_sync

ROLE_PERMISSIONS = {
    "Marketing": [
        "view_messagetemplate",
        "add_messagetemplate",
        "change_messagetemplate",
        "view_kindsetting",
        "change_kindsetting",
        "view_messagelog",
        "view_optout",
        "view_suppression",
    ],
    "Customer service": ["view_messagetemplate", "view_messagelog", "view_optout"],
    "Supervisor": ["view_messagetemplate", "view_messagelog", "view_optout", "view_suppression"],
    "Operator": ["view_messagelog", "view_suppression"],
}


def forwards(apps, schema_editor):
    role_permissions_sync(
        apps, schema_editor, app_label="messaging", role_permissions=ROLE_PERMISSIONS
    )


def backwards(apps, schema_editor):
    role_permissions_revoke(apps, schema_editor, app_label="messaging")


class Migration(migrations.Migration):
    dependencies = [
        ("messaging", "0001_initial"),
        ("members", "0002_roles"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
