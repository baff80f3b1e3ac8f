"""Staff accounts: admin users and the roles (groups) they hold.

Staff users are Django's `auth.User`; a role is one of the groups `members.roles` defines (the
data migrations create them). A staff user needs `is_staff` to log in to the admin and takes
every permission from their role; only superusers bypass roles.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction

from members.roles import ROLES


def staff_user_ensure(
    *, username: str, password: str, role: str | None = None, superuser: bool = False
) -> tuple[object, bool]:
    """The staff user `username` with `role`, created with `password` when missing.

    Idempotent: an existing user keeps their password and is only made staff (and given the
    role) if they were not. Returns `(user, created)`.
    """
    if role is not None and role not in ROLES:
        raise ValueError(f"Unknown role {role!r}; roles are {', '.join(ROLES)}.")
    user_model = get_user_model()
    with transaction.atomic():
        user = user_model.objects.filter(username=username).first()
        created = user is None
        if created:
            create = (
                user_model.objects.create_superuser if superuser else user_model.objects.create_user
            )
            user = create(username=username, password=password, is_staff=True)
        elif not user.is_staff or (superuser and not user.is_superuser):
            user.is_staff = True
            user.is_superuser = user.is_superuser or superuser
            user.save(update_fields=["is_staff", "is_superuser"])
        if role is not None:
            user.groups.add(Group.objects.get(name=role))
    return user, created
