"""Building blocks for the API's input serializers: they check shape; services enforce rules.

- `StrictSerializer` refuses fields it does not declare (`400 validation_error` naming each one),
  at every nesting level, so a typo such as `emial` is an error, never silently ignored.
- `AwareDateTimeField` accepts only ISO 8601 times that carry a zone (`Z` or `+01:00`): a naive
  time would be read in the server's zone, which the storefront cannot know.
"""

from __future__ import annotations

from collections.abc import Mapping

from django.utils.dateparse import parse_datetime
from rest_framework import serializers


class StrictSerializer(serializers.Serializer):
    """A serializer that refuses unknown (and read-only) fields instead of ignoring them."""

    def to_internal_value(self, data):
        if isinstance(data, Mapping):
            writable = {name for name, field in self.fields.items() if not field.read_only}
            unknown = sorted(str(name) for name in data if name not in writable)
            if unknown:
                raise serializers.ValidationError({name: ["Unknown field."] for name in unknown})
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
