"""An event's one public shape (the feed, webhook bodies): read-only."""

from __future__ import annotations

from rest_framework import serializers

from events.models import Event


class EventSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="uuid", help_text="The event's id: de-duplicate on it.")
    member_id = serializers.IntegerField(
        allow_null=True,
        help_text="The member's internal id: a pseudonymous key that outlives erasure "
        "(null for events about no member).",
    )
    sequence = serializers.IntegerField(
        allow_null=True,
        help_text="The member's event number: 1, 2, 3... without gaps, in commit order.",
    )
    member = serializers.SerializerMethodField(
        help_text="The member's external id when the event happened (pseudonymised after an "
        "erasure); null for events about no member."
    )
    payload = serializers.JSONField(
        help_text="The type's payload (docs/events.md, schema_version 1)."
    )

    class Meta:
        model = Event
        fields = [
            "id",
            "type",
            "schema_version",
            "occurred_at",
            "member",
            "member_id",
            "sequence",
            "payload",
        ]
        read_only_fields = fields

    def get_member(self, event: Event) -> str | None:
        return event.payload.get("member_external_id")
