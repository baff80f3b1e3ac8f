"""`manage.py load_demo`: staff per role, demo members, idempotent."""

from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command

from members.demo import DEMO_PASSWORD
from members.models import AuditEntry, Member
from members.roles import ROLES


def _load() -> str:
    out = StringIO()
    call_command("load_demo", "--force", stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_load_demo_creates_one_staff_user_per_role_and_prints_the_logins():
    output = _load()

    staff = User.objects.filter(is_staff=True, is_superuser=False)
    assert sorted(staff.values_list("groups__name", flat=True)) == sorted(ROLES)
    assert User.objects.get(username="admin").is_superuser
    for username in ("admin", "marketing", "customerservice", "supervisor", "operator"):
        assert User.objects.get(username=username).check_password(DEMO_PASSWORD)
        assert f"  {username:<16} {DEMO_PASSWORD}" in output


@pytest.mark.django_db
def test_load_demo_enrols_members_through_the_service():
    _load()

    members = Member.objects.filter(external_id__startswith="DEMO-")
    assert members.count() == 8
    assert (
        AuditEntry.objects.filter(action="member.enrol", actor_label="system:load_demo").count()
        == 8
    )
    assert Member.objects.get(external_id="DEMO-0004").referred_by.external_id == "DEMO-0001"
    assert Member.objects.get(external_id="DEMO-0006").status == "suspended"


@pytest.mark.django_db
def test_load_demo_twice_creates_nothing_twice_and_keeps_changed_passwords():
    _load()
    user = User.objects.get(username="supervisor")
    user.set_password("changed-by-the-user")
    user.save()
    counts = (User.objects.count(), Member.objects.count(), AuditEntry.objects.count())

    output = _load()

    assert (User.objects.count(), Member.objects.count(), AuditEntry.objects.count()) == counts
    assert User.objects.get(username="supervisor").check_password("changed-by-the-user")
    assert "Demo members: 8 (0 new)." in output
    assert User.objects.get(username="supervisor").groups.count() == 1


@pytest.mark.django_db
def test_load_demo_refuses_to_run_with_debug_off_unless_forced(settings):
    settings.DEBUG = False

    with pytest.raises(CommandError, match="DEBUG"):
        call_command("load_demo", stdout=StringIO())

    assert User.objects.count() == 0
