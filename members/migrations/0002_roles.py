"""Create the four staff groups and give them the members app's permissions.

The matrix is a literal snapshot of `members.roles` at the time of writing: a later change to the
roles is a new migration, never an edit of this one.
"""

from django.db import migrations

from members.roles import role_permissions_revoke, role_permissions_sync

ROLE_PERMISSIONS = {
    "Marketing": ["view_member"],
    "Customer service": ["view_member", "change_member"],
    "Supervisor": ["view_member", "change_member", "erase_member", "view_auditentry"],
    "Operator": ["view_member", "export_member", "view_auditentry"],
}


def forwards(apps, schema_editor):
    role_permissions_sync(
        apps, schema_editor, app_label="members", role_permissions=ROLE_PERMISSIONS
    )


def backwards(apps, schema_editor):
    role_permissions_revoke(apps, schema_editor, app_label="members")
    Group = apps.get_model("auth", "Group")
    Group.objects.using(schema_editor.connection.alias).filter(
        name__in=list(ROLE_PERMISSIONS), permissions=None
    ).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("members", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
