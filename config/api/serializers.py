"""Building blocks for the API's input serializers: they check shape; services enforce rules.

- `StrictSerializer` refuses fields it does not declare (`400 validation_error` naming each one),
  at every nesting level, so a typo such as `emial` is an error, never silently ignored.
- In a JSON body, every value has the JSON type its field's schema says (`_JSON_TYPES`): a
  string field refuses a number (`"refund_id": 42`), a boolean field refuses `"true"` and `1`,
  an integer field refuses `"5"`, `5.0` and `true`. DRF would coerce them; the storefront
  contract types them (`docs/api.md`). Query strings are text by nature and are not checked.
- `AwareDateTimeField` accepts only ISO 8601 times that carry a zone (`Z` or `+01:00`): a naive
  time would be read in the server's zone, which the storefront cannot know.
"""

from __future__ import annotations

from collections.abc import Mapping

from django.http import QueryDict
from django.utils.dateparse import parse_datetime
from rest_framework import serializers

# (field class, the JSON type a value must have, what the error says), most specific first.
_JSON_TYPES: tuple[tuple[type, tuple[type, ...], str], ...] = (
    (serializers.BooleanField, (bool,), "Must be a JSON boolean (true or false)."),
    (serializers.IntegerField, (int,), "Must be a JSON integer."),
    (serializers.CharField, (str,), "Must be a JSON string."),
    (serializers.ChoiceField, (str,), "Must be a JSON string."),
    (serializers.DateField, (str,), "Must be a JSON string (a date, YYYY-MM-DD)."),
    (serializers.DateTimeField, (str,), "Must be a JSON string (an ISO 8601 time with a zone)."),
)


def _json_type_error(field: serializers.Field, value) -> str | None:
    """Why `value` does not have the JSON type of `field`'s schema, or None when it does."""
    if value is None:
        return None  # `allow_null` decides
    for field_class, types, message in _JSON_TYPES:
        if isinstance(field, field_class):
            wrong_bool = isinstance(value, bool) and bool not in types
            return message if wrong_bool or not isinstance(value, types) else None
    return None


class StrictSerializer(serializers.Serializer):
    """A serializer that refuses unknown (and read-only) fields instead of ignoring them."""

    # ... and, in a JSON body, values of another JSON type than their field's (`_JSON_TYPES`).
    # (A comment: the docstring is every input schema's description.) A serializer of query
    # parameters (text by nature) sets `json_body = False`.
    json_body = True

    def to_internal_value(self, data):
        if isinstance(data, Mapping):
            writable = {name for name, field in self.fields.items() if not field.read_only}
            unknown = sorted(str(name) for name in data if name not in writable)
            if unknown:
                raise serializers.ValidationError({name: ["Unknown field."] for name in unknown})
            if self.json_body and not isinstance(data, QueryDict):
                mistyped = {
                    name: [error]
                    for name, value in data.items()
                    if (error := _json_type_error(self.fields[name], value))
                }
                if mistyped:
                    raise serializers.ValidationError(mistyped)
        return super().to_internal_value(data)


class AwareDateTimeField(serializers.DateTimeField):
    """An ISO 8601 date and time with a zone; naive times are refused."""

    default_error_messages = {
        "naive": "Give a time zone (for example 2026-01-05T10:00:00Z or +01:00).",
    }

    def to_internal_value(self, value):
        if isinstance(value, str):
            try:
                parsed = parse_datetime(value.strip())
            except ValueError:
                parsed = None  # out-of-range parts: the parent reports the format error
            if parsed is not None and parsed.tzinfo is None:
                self.fail("naive")
        return super().to_internal_value(value)
