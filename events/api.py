"""`GET /api/v1/events?after=<cursor>&types=a,b&limit=`: the pull feed of domain events.

For storefronts that prefer polling to webhooks. Oldest first, in a stable order: a cursor
handed out is never overtaken by an event committed later (`events.selectors`). Same API key
authentication as every storefront endpoint.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api.schema import problems
from events.models import EventType
from events.selectors import CURSOR_PATTERN, FEED_LIMIT_DEFAULT, FEED_LIMIT_MAX, events_feed
from events.serializers import EventSerializer

# What `types_parse` accepts, for the schema: comma-separated parts, each an event type or
# nothing, with what Python's `str.strip` removes around it (spelled out: `\s` differs).
_SPACE = (
    "[\\t\\n\\x0b\\x0c\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a"
    "\\u2028\\u2029\\u202f\\u205f\\u3000]*"
)
_PART = f"{_SPACE}(" + "|".join(t.replace(".", "\\.") for t in EventType.values) + f")?{_SPACE}"
TYPES_PATTERN = f"^{_PART}(,{_PART})*$"


class EventPageSerializer(serializers.Serializer):
    results = EventSerializer(many=True)
    next = serializers.URLField(
        allow_null=True,
        help_text="The next page's URL while more events wait; null once caught up (then poll "
        "later with `cursor` as `after`).",
    )
    cursor = serializers.CharField(
        help_text="Pass as `after` for the next page (the same cursor again when `events` is "
        "empty: poll with it later). Opaque."
    )
    has_more = serializers.BooleanField(help_text="More events wait: ask again at once.")


class EventFeedApi(APIView):
    @extend_schema(
        operation_id="events_list",
        summary="Domain events, oldest first, after a cursor",
        parameters=[
            OpenApiParameter(
                "after",
                {"type": "string", "pattern": f"^({CURSOR_PATTERN[1:-1]})?$"},
                OpenApiParameter.QUERY,
                description="The `cursor` of the previous page; none: from the first event.",
            ),
            OpenApiParameter(
                "types",
                {"type": "string", "pattern": TYPES_PATTERN},
                OpenApiParameter.QUERY,
                description="Comma-separated event types to return (none: all): "
                + ", ".join(f"`{t}`" for t in EventType.values),
            ),
            OpenApiParameter(
                "limit",
                {"type": "integer", "minimum": 1, "maximum": FEED_LIMIT_MAX},
                OpenApiParameter.QUERY,
                description=f"Events per page, 1 to {FEED_LIMIT_MAX} "
                f"(default {FEED_LIMIT_DEFAULT}).",
            ),
        ],
        responses={200: EventPageSerializer, **problems({400: ["validation_error"]})},
        tags=["events"],
    )
    def get(self, request):
        page = events_feed(
            after=request.query_params.get("after"),
            types=request.query_params.get("types"),
            limit=request.query_params.get("limit"),
        )
        next_url = None
        if page.has_more:
            query = request.query_params.copy()
            query["after"] = page.cursor
            next_url = request.build_absolute_uri(f"{request.path}?{query.urlencode()}")
        body = {
            "results": page.events,
            "next": next_url,
            "cursor": page.cursor,
            "has_more": page.has_more,
        }
        return Response(EventPageSerializer(body).data)
