"""The admin world, built once per test module and rolled back at its end.

Building one object of every admin's model through the services takes a few seconds; the
matrix and the smoke test run many tests over it. The module's world lives in an outer
transaction; each test (taking `db`) runs in a savepoint inside it, so what one test's POSTs
change or delete is rolled back before the next, as in any pytest-django test.
"""

from __future__ import annotations

import pytest
from django.db import transaction
from django.test import Client, override_settings

from tests.hardening.admin_table import ROLE_CODES
from tests.hardening.admin_world import admin_world
from tests.loyalty.staff import staff_user


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker, tmp_path_factory):
    uploads = tmp_path_factory.mktemp("uploads")
    # Import error reports go where the admin keeps them, a folder of this module's own.
    with override_settings(IMPORT_UPLOAD_DIR=str(uploads)), django_db_blocker.unblock():
        outer = transaction.atomic()
        # As Django's TestCase marks its own: the services' durable transactions nest in it.
        outer._from_testcase = True
        with outer:
            yield admin_world()
            transaction.set_rollback(True)


def principal_client(principal: str, **headers) -> Client:
    """A client logged in as the principal (a fresh user of its role), or anonymous."""
    client = Client(**headers)
    if principal == "ANON":
        return client
    role = next((r for r, code in ROLE_CODES.items() if code == principal), None)
    user = staff_user(role, f"matrix-{principal.lower()}", superuser=principal == "SU")
    client.force_login(user)
    return client
