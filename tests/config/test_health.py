"""`GET /healthz`: 200 when the database answers, 503 when it does not. No auth."""

from __future__ import annotations

import copy
from http import HTTPStatus

import pytest
from django.db import connections


def test_healthz_answers_200_ok_without_auth(client, db):
    response = client.get("/healthz")

    assert response.status_code == HTTPStatus.OK
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"status": "ok", "database": "ok"}


@pytest.fixture
def unreachable_database(db):
    """Swap this thread's default connection for one to a database that cannot be reached."""
    real = connections["default"]
    settings = copy.deepcopy(real.settings_dict)
    if real.vendor == "postgresql":
        settings.update(HOST="127.0.0.1", PORT="1")  # nothing listens on port 1
        settings.setdefault("OPTIONS", {})["connect_timeout"] = 2
    else:
        settings.update(NAME="/nonexistent-directory/loyalty.sqlite3")
        settings.setdefault("OPTIONS", {}).pop("init_command", None)
    broken = real.__class__(settings, "default")
    connections["default"] = broken
    try:
        yield
    finally:
        broken.close()
        connections["default"] = real


def test_healthz_answers_503_when_the_database_is_unreachable(client, unreachable_database):
    response = client.get("/healthz")

    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert response.json() == {"status": "error", "database": "unavailable"}


def test_healthz_only_answers_get(client):
    response = client.post("/healthz")

    assert response.status_code == HTTPStatus.METHOD_NOT_ALLOWED
