"""Customer service, Marketing and Supervisors add members to clubs and take them out in the
admin (through the club services): a literal snapshot of segments.roles."""

from django.db import migrations

from members.roles import role_permissions_sync

ROLE_PERMISSIONS = {
    "Marketing": [
        "view_memberstats",
        "view_segment",
        "add_segment",
        "change_segment",
        "delete_segment",
        "export_segment",
        "view_segmentaward",
        "view_club",
        "add_club",
        "change_club",
        "view_clubmembership",
        "add_clubmembership",
        "delete_clubmembership",
        "view_statsrefresh",
    ],
    "Customer service": [
        "view_memberstats",
        "view_segment",
        "award_segment",
        "view_segmentaward",
        "view_club",
        "view_clubmembership",
        "add_clubmembership",
        "delete_clubmembership",
    ],
    "Supervisor": [
        "view_memberstats",
        "view_segment",
        "award_segment",
        "view_segmentaward",
        "view_club",
        "view_clubmembership",
        "add_clubmembership",
        "delete_clubmembership",
    ],
    "Operator": ["view_statsrefresh"],
}


def forwards(apps, schema_editor):
    role_permissions_sync(
        apps, schema_editor, app_label="segments", role_permissions=ROLE_PERMISSIONS
    )


class Migration(migrations.Migration):
    dependencies = [("segments", "0002_roles")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
