"""Bounded retries of a whole transaction that PostgreSQL aborted to break a deadlock (`40P01`)
or a serialisation conflict (`40001`).

Only for callables that are safe to run again (idempotent by a business id, like recording an
order) and only outside any enclosing transaction: inside one, the abort poisons the outer block
and must go up. A lock wait past `lock_timeout` (`55P03`) is not retried: the client is better
served by a prompt `503` with `Retry-After` (the API's exception handler) than by a second wait.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from django.db import OperationalError, connection

logger = logging.getLogger("config.api")

T = TypeVar("T")
RETRYABLE_SQLSTATES = frozenset({"40P01", "40001"})


def _sqlstate(exc: OperationalError) -> str | None:
    cause = exc.__cause__
    return getattr(cause, "sqlstate", None) or getattr(cause, "pgcode", None)


def retry_on_contention(call: Callable[[], T], *, attempts: int = 3, pause: float = 0.02) -> T:
    """`call()`, run again (up to `attempts` times in all) after a deadlock or serialisation
    failure."""
    for attempt in range(1, attempts + 1):
        try:
            return call()
        except OperationalError as exc:
            if (
                attempt == attempts
                or connection.in_atomic_block
                or _sqlstate(exc) not in RETRYABLE_SQLSTATES
            ):
                raise
            logger.info("retrying after %s (attempt %s of %s)", _sqlstate(exc), attempt, attempts)
            time.sleep(pause * attempt)
    raise AssertionError("unreachable")
