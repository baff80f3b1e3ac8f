"""JSON bodies are typed (`config.api.serializers.StrictSerializer`); query strings are text.

A query serializer must say so (`json_body = False`), else `?page=2` would be refused as a string
where an integer is expected: every serializer named `...QuerySerializer` is checked here.
"""

from __future__ import annotations

import importlib

import pytest
from rest_framework import serializers

from config.api.serializers import StrictSerializer

API_MODULES = (
    "loyalty.api.members",
    "loyalty.api.orders",
    "rewards.api",
    "rewards.api_coupons",
    "campaigns.api",
    "campaigns.api_storefront",
)


def _subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def test_every_query_serializer_reads_text():
    for module in API_MODULES:
        importlib.import_module(module)
    queries = [c for c in _subclasses(StrictSerializer) if c.__name__.endswith("QuerySerializer")]

    assert len(queries) >= 4
    assert {c.__name__: c.json_body for c in queries} == dict.fromkeys(
        (c.__name__ for c in queries), False
    )


class _Body(StrictSerializer):
    ref = serializers.CharField()
    flag = serializers.BooleanField(required=False)
    count = serializers.IntegerField(required=False)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"ref": 42}, "ref"),
        ({"ref": 4.2}, "ref"),
        ({"ref": True}, "ref"),
        ({"ref": ["a"]}, "ref"),
        ({"ref": "a", "flag": "true"}, "flag"),
        ({"ref": "a", "flag": 1}, "flag"),
        ({"ref": "a", "count": "5"}, "count"),
        ({"ref": "a", "count": 5.0}, "count"),
        ({"ref": "a", "count": True}, "count"),
    ],
)
def test_a_value_of_another_json_type_is_refused_naming_the_field(body, field):
    serializer = _Body(data=body)

    assert serializer.is_valid() is False
    assert list(serializer.errors) == [field]


def test_values_of_their_own_type_pass():
    serializer = _Body(data={"ref": "a", "flag": False, "count": 5})

    assert serializer.is_valid(), serializer.errors
    assert serializer.validated_data == {"ref": "a", "flag": False, "count": 5}
