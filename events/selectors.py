"""Reading events: the pull feed (`GET /api/v1/events`) and an event's one public shape.

Why the feed's cursor is safe (`docs/events.md`): a position drawn early can commit late. If the
feed simply returned rows after the last position it had handed out, a transaction that drew
position 10, then committed after one with position 11 had been read, would be skipped forever.

- PostgreSQL: every row stores its writing transaction's id (`txid`, 64-bit, assigned in start
  order) and the feed orders by `(txid, position)`. It returns only rows whose `txid` is below
  the reading snapshot's `xmin`, the oldest transaction still running: every transaction below
  it has finished, so no row can appear later before the cursor; every transaction that commits
  later has a `txid` at or above it, after the cursor. The price: the feed lags behind the
  oldest transaction running on the cluster (a long import holds it back until it ends).
- SQLite: one writing transaction at a time (the database lock is held from the first write to
  the commit), so positions are drawn in commit order and `txid` is 0: `position` alone orders.

The cursor is `"<txid>.<position>"` of the last event returned; clients treat it as opaque.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.db import connection
from django.db.models import BooleanField, QuerySet
from django.db.models.expressions import RawSQL

from config.errors import ServiceError
from events.models import Event, EventType

FEED_LIMIT_DEFAULT = 100
FEED_LIMIT_MAX = 1000
# ASCII digits only (Python's `\d` takes any script's digits), as the schema's pattern says.
CURSOR_PATTERN = r"^([0-9]{1,19})\.([0-9]{1,19})$"
_CURSOR = re.compile(CURSOR_PATTERN)


@dataclass(frozen=True)
class FeedPage:
    events: list[Event]
    cursor: str  # where the next call starts: the last event's, or the one given if none
    has_more: bool


def cursor_of(event: Event) -> str:
    return f"{event.txid}.{event.position}"


def cursor_parse(value: str | None) -> tuple[int, int]:
    """(txid, position) from a cursor; (0, 0), the beginning, for none. 400 if malformed."""
    if value is None or value == "":
        return 0, 0
    match = _CURSOR.match(value)
    if match is None:
        raise ServiceError(
            "validation_error",
            "Not a cursor: pass back the `cursor` of a previous page.",
            status=400,
            field="after",
        )
    return int(match[1]), int(match[2])


def types_parse(value: str | None) -> list[str]:
    """The comma-separated event types (none: all). 400 naming `types` for an unknown one."""
    if not value:
        return []
    types = [part.strip() for part in value.split(",") if part.strip()]
    unknown = [t for t in types if t not in EventType.values]
    if unknown:
        raise ServiceError(
            "validation_error", f"Unknown event type: {unknown[0]}", status=400, field="types"
        )
    return types


def limit_parse(value: str | None) -> int:
    if value is None or value == "":
        return FEED_LIMIT_DEFAULT
    if not value.isdigit() or not 1 <= int(value) <= FEED_LIMIT_MAX:
        raise ServiceError(
            "validation_error",
            f"limit must be a whole number from 1 to {FEED_LIMIT_MAX}.",
            status=400,
            field="limit",
        )
    return int(value)


def _committed_below() -> RawSQL | None:
    """Rows of transactions that have all finished (PostgreSQL; None: every committed row)."""
    if connection.vendor != "postgresql":
        return None
    return RawSQL("txid < txid_snapshot_xmin(txid_current_snapshot())", [], BooleanField())


def events_after(*, after: tuple[int, int], types: list[str]) -> QuerySet[Event]:
    txid, position = after
    qs = Event.objects.filter(
        RawSQL('("txid", "position") > (%s, %s)', [txid, position], BooleanField())
    )
    below = _committed_below()
    if below is not None:
        qs = qs.filter(below)
    if types:
        qs = qs.filter(type__in=types)
    return qs.order_by("txid", "position")


def events_feed(*, after: str | None, types: str | None, limit: str | None) -> FeedPage:
    """One page of the feed, from the raw query parameters (each checked, 400 naming it)."""
    start, wanted, size = cursor_parse(after), types_parse(types), limit_parse(limit)
    events = list(events_after(after=start, types=wanted)[: size + 1])
    has_more = len(events) > size
    events = events[:size]
    cursor = cursor_of(events[-1]) if events else f"{start[0]}.{start[1]}"
    return FeedPage(events=events, cursor=cursor, has_more=has_more)


def event_as_dict(event: Event) -> dict:
    """The event as every reader gets it (the feed, webhook bodies): `EventSerializer`'s shape."""
    from events.serializers import EventSerializer

    return dict(EventSerializer(event).data)
