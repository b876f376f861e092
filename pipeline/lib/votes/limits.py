"""The service's own rate limit: a token bucket per browser id, in memory.

nginx limits each client address first (`limit_req`, deploy/nginx/gallery.conf.template);
this is the second line, for what nginx cannot see (one address shared by many browsers is
nginx's business; one browser sending faster than a person plays is this one's). Nothing
here is stored: the buckets live in the process and go with it. Time comes from the one
clock (`pipeline.lib.core.clock`), so tests pin it.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime

from pipeline.lib.core import clock

# A person answers a round in a second or more; a few quick ones in a row are fine.
RATE_PER_S = 1.0
BURST = 5
# Buckets kept at most; the least recently used go first (a full bucket is the default).
MAX_KEYS = 100_000


class RateLimiter:
    def __init__(
        self,
        rate_per_s: float = RATE_PER_S,
        burst: int = BURST,
        *,
        now: Callable[[], datetime] = clock.utc_now,
        max_keys: int = MAX_KEYS,
    ):
        self.rate = rate_per_s
        self.burst = float(burst)
        self._now = now
        self._max_keys = max_keys
        self._buckets: OrderedDict[str, tuple[float, datetime]] = OrderedDict()
        self._lock = threading.Lock()

    def allow(self, key: str) -> bool:
        """Take one token from `key`'s bucket; False when it is empty."""
        now = self._now()
        with self._lock:
            tokens, then = self._buckets.pop(key, (self.burst, now))
            elapsed = max(0.0, (now - then).total_seconds())
            tokens = min(self.burst, tokens + elapsed * self.rate)
            allowed = tokens >= 1.0
            self._buckets[key] = (tokens - 1.0 if allowed else tokens, now)
            while len(self._buckets) > self._max_keys:
                self._buckets.popitem(last=False)
            return allowed
