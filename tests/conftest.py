"""Shared fixtures. Objects are built through our own services so they cannot bypass invariants."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from rest_framework.test import APIClient
from rest_framework_api_key.models import APIKey

from members import services as member_services
from members.actors import Actor

ENROLLED_AT = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


def pytest_configure(config):
    """The zh-Hans catalog is compiled from its committed `.po` (the `.mo` is not committed)."""
    from config.translations import compile_if_stale

    compile_if_stale()


@pytest.fixture(autouse=True)
def _language_reset():
    """Each test starts in LANGUAGE_CODE: a request in Chinese leaves its language active in the
    thread (LocaleMiddleware activates, nothing deactivates), which would leak into the next."""
    from django.utils import translation

    translation.deactivate()
    yield
    translation.deactivate()


def pytest_collection_modifyitems(config, items):
    """Tests marked `postgres` need PostgreSQL; on SQLite they are skipped, saying why."""
    from django.conf import settings

    if settings.DATABASES["default"]["ENGINE"].endswith("postgresql"):
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL (run `make test-postgres`)")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def role_groups(db) -> None:
    """The staff role groups as the roles migrations make them, for `transaction=True` tests.

    A transactional test starts from whatever the previous one's flush left: the tables are
    empty, the roles migrations' groups included (flush recreates content types and permissions,
    not data-migration rows). This syncs every app's current matrix (`<app>/roles.py`, equal to
    the migrations' snapshots: `tests/members/test_roles.py`) with the live app registry.
    """
    from importlib import import_module
    from importlib.util import find_spec
    from types import SimpleNamespace

    from django.apps import apps

    from members.roles import role_permissions_sync

    editor = SimpleNamespace(connection=connection)
    # Every app of ours with a roles module, so that an app added later is not forgotten here.
    for app_config in apps.get_app_configs():
        if find_spec(f"{app_config.name}.roles") is None or "." in app_config.name:
            continue
        matrix = import_module(f"{app_config.name}.roles").ROLE_PERMISSIONS
        if matrix:
            role_permissions_sync(apps, editor, app_label=app_config.label, role_permissions=matrix)
    from members.roles import JOB_ROLE_PERMISSIONS

    role_permissions_sync(
        apps, editor, app_label="procrastinate", role_permissions=JOB_ROLE_PERMISSIONS
    )


@pytest.fixture
def job_queue(db):
    """Procrastinate's tables emptied before and after a test (PostgreSQL only).

    They are not Django-managed, so the flush between transactional tests leaves them alone; a
    test that commits jobs (or runs a worker) takes this fixture so the next one starts clean.
    """
    from procrastinate.contrib.django.models import ProcrastinateJob

    tables = "procrastinate_jobs, procrastinate_periodic_defers, procrastinate_workers"

    def clear():
        with connection.cursor() as cursor:
            cursor.execute(f"TRUNCATE {tables} CASCADE")

    clear()
    yield ProcrastinateJob.objects
    clear()


@pytest.fixture
def is_postgres() -> bool:
    return connection.vendor == "postgresql"


@pytest.fixture
def system_actor() -> Actor:
    return Actor.system("tests")


@pytest.fixture
def api_key(db):
    api_key, key = APIKey.objects.create_key(name="storefront-test")
    api_key.raw_key = key
    return api_key


@pytest.fixture
def api_client(api_key) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {api_key.raw_key}")
    client.api_key = api_key
    return client


@pytest.fixture
def anon_client() -> APIClient:
    return APIClient()


@pytest.fixture
def make_member(db, system_actor):
    """Enrol a member through the service: `make_member()` or `make_member(external_id="C-1")`."""
    counter = iter(range(1, 1_000_000))

    def _make(**kwargs):
        n = next(counter)
        kwargs.setdefault("external_id", f"C-{n:05d}")
        kwargs.setdefault("email", f"member{n}@example.com")
        kwargs.setdefault("actor", system_actor)
        # Enrolled before the tests' orders (`tests/loyalty/conftest.py`'s T0 and "days ago"):
        # an order placed before enrolment earns only as retro credit (docs/api.md).
        kwargs.setdefault("enrolled_at", ENROLLED_AT)
        return member_services.member_enrol(**kwargs)

    return _make


@pytest.fixture
def member(make_member):
    return make_member(external_id="C-1001", email="ada@example.com", first_name="Ada")
