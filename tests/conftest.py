"""Shared fixtures. Objects are built through our own services so they cannot bypass invariants."""

from __future__ import annotations

import pytest
from django.db import connection
from rest_framework.test import APIClient
from rest_framework_api_key.models import APIKey

from members import services as member_services
from members.actors import Actor


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
        return member_services.member_enrol(**kwargs)

    return _make


@pytest.fixture
def member(make_member):
    return make_member(external_id="C-1001", email="ada@example.com", first_name="Ada")
