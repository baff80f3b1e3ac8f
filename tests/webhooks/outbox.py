"""Waiting for the outbox feed to show committed events (PostgreSQL shows only those below the
oldest transaction running on the whole cluster: the other test processes' count too)."""

from __future__ import annotations

import time

from events.selectors import events_after


def wait_until_visible(count: int, *, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while events_after(after=(0, 0), types=[]).count() < count:
        assert time.monotonic() < deadline, f"the feed never showed {count} events"
        time.sleep(0.05)
