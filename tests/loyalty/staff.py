"""Staff users for admin and adjustment tests, in the groups the roles migrations create."""

from __future__ import annotations

from django.contrib.auth.models import Group, User
from django.test import Client

from members.actors import Actor


def staff_user(role: str | None, username: str, *, superuser: bool = False) -> User:
    """A staff user in the named role's group (the migrations' permissions), fresh from the DB."""
    if superuser:
        user = User.objects.create_superuser(username=username, password="x", email="")
    else:
        user = User.objects.create_user(username=username, password="x", is_staff=True)
    if role is not None:
        user.groups.add(Group.objects.get(name=role))
    return User.objects.get(pk=user.pk)  # no cached permissions


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def actor_for(user: User) -> Actor:
    return Actor.staff(user)
