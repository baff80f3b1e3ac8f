"""`manage.py create_api_key NAME`: prints a working key once and stores only its hash."""

from __future__ import annotations

from http import HTTPStatus
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient
from rest_framework_api_key.models import APIKey


def test_create_api_key_prints_a_key_that_opens_the_api_once(member):
    out, err = StringIO(), StringIO()

    call_command("create_api_key", "storefront-production", stdout=out, stderr=err)

    key = out.getvalue().strip()
    api_key = APIKey.objects.get()
    assert api_key.name == "storefront-production"
    assert key.startswith(f"{api_key.prefix}.")
    assert key not in api_key.hashed_key  # stored hashed, never in clear
    assert key not in err.getvalue()  # printed once, on stdout only
    assert "cannot be shown again" in err.getvalue()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    assert client.get(f"/api/v1/members/{member.external_id}").status_code == HTTPStatus.OK


def test_a_revoked_key_no_longer_opens_the_api(member):
    out = StringIO()
    call_command("create_api_key", "shop", stdout=out, stderr=StringIO())
    APIKey.objects.update(revoked=True)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {out.getvalue().strip()}")

    response = client.get(f"/api/v1/members/{member.external_id}")

    assert response.status_code == HTTPStatus.UNAUTHORIZED


@pytest.mark.parametrize("name", ["", "   ", "x" * 51])
def test_create_api_key_needs_a_name_of_1_to_50_characters(db, name):
    with pytest.raises(CommandError, match="1–50"):
        call_command("create_api_key", name, stdout=StringIO(), stderr=StringIO())

    assert APIKey.objects.count() == 0
