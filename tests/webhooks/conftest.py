"""Fixtures for the webhooks tests: a live receiver on 127.0.0.1 and short timeouts."""

from __future__ import annotations

import pytest

from tests.webhooks.receiver import Receiver


@pytest.fixture(autouse=True)
def jobs_in_process(request, settings):
    """Jobs run in-process after commit (as on SQLite), on both engines; the tests marked
    `postgres` run real workers on the queue instead."""
    if request.node.get_closest_marker("postgres") is None:
        settings.JOBS_RUN_INLINE = True


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()


@pytest.fixture
def quick_timeouts(settings):
    settings.WEBHOOKS_CONNECT_TIMEOUT = 1.0
    settings.WEBHOOKS_READ_TIMEOUT = 0.5
    settings.WEBHOOKS_TOTAL_TIMEOUT = 1.0
    return settings
