"""Rate limiting per API key: `ApiKeyRateThrottle` (a DRF throttle).

Each API key may make `API_THROTTLE_RATE` requests (`"<n>/<s|m|h|d>"`) per fixed window; one more
is `429 rate_limited` (problem+json) with `Retry-After`, the seconds until the window ends
(`config.api.errors`). The count lives in the cache named by `API_THROTTLE_CACHE`, shared by
every gunicorn worker (production: the database cache, or Redis; tests: local memory).

Invariants:
- A worker takes quota from the shared counter in blocks (`rate // 100`, at least 1) and spends
  a block without asking the cache again: the cost is one cache increment per block, not per
  request. The limit holds exactly when the block is 1 (every rate up to 199 per window); above,
  a key may be refused while up to one block per worker is still unspent elsewhere, never let
  through beyond the rate.
- A request without an API key is not counted (it was refused before throttling).
"""

from __future__ import annotations

import math
import threading
import time

from django.conf import settings
from django.core.cache import caches
from rest_framework.throttling import BaseThrottle

_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_rate(rate: str) -> tuple[int, int]:
    """`"6000/m"` -> (6000, 60). Raises ValueError for anything else."""
    count, _, period = rate.partition("/")
    seconds = _PERIODS.get(period[:1].lower()) if period else None
    if not count.isdigit() or int(count) < 1 or seconds is None:
        raise ValueError(f"API_THROTTLE_RATE must look like 6000/m, not {rate!r}")
    return int(count), seconds


class ApiKeyRateThrottle(BaseThrottle):
    # Quota a worker still holds: {(api key id, window start): requests left}. A gunicorn worker
    # is one process; the lock covers threaded servers (runserver).
    _reserved: dict[tuple[str, str, int], int] = {}
    _lock = threading.Lock()

    def __init__(self) -> None:
        self._wait: float | None = None

    def allow_request(self, request, view) -> bool:
        api_key = getattr(request, "api_key", None)
        rate = settings.API_THROTTLE_RATE
        if api_key is None or not rate:
            return True
        limit, period = parse_rate(rate)
        now = time.time()
        window = int(now // period) * period
        slot = (str(api_key.pk), rate, window)
        with self._lock:
            if self._reserved.get(slot, 0) > 0:
                self._reserved[slot] -= 1
                return True
            granted = self._reserve(slot, limit=limit, period=period)
            if granted == 0:
                self._wait = max(window + period - now, 1)
                return False
            # Forget the windows that have ended (a key's old slot).
            for old in [s for s in self._reserved if s[2] < window]:
                del self._reserved[old]
            self._reserved[slot] = granted - 1
            return True

    def _reserve(self, slot: tuple[str, str, int], *, limit: int, period: int) -> int:
        """Take up to a block of quota from the shared counter; 0 when the window's is spent."""
        block = max(1, limit // 100)
        cache = caches[settings.API_THROTTLE_CACHE]
        key = f"throttle:api-key:{slot[0]}:{slot[1]}:{slot[2]}"
        cache.add(key, 0, timeout=period + 5)
        try:
            total = cache.incr(key, block)
        except ValueError:  # expired between add and incr: the window just ended
            cache.add(key, block, timeout=period + 5)
            total = block
        already = total - block
        return max(0, min(block, limit - already))

    @classmethod
    def forget(cls) -> None:
        """Drop the quota this process holds (tests change the rate between requests)."""
        with cls._lock:
            cls._reserved.clear()

    def wait(self) -> float | None:
        return math.ceil(self._wait) if self._wait is not None else None
