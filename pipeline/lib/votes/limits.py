"""The service's own rate limit: a token bucket per browser id, in memory, per process.

nginx's `limit_req` is the real limit (deploy/nginx/gallery.conf.template: 5 a second per
client address after a burst of 10, whatever process would serve the vote): one place, one
count, before the service. This is a per-process backstop for what nginx cannot see, one
browser id sending faster than a person plays. Each uvicorn worker keeps its own buckets,
and nginx's pooled upstream connections spread one browser's votes over the workers, so
with W workers a browser id gets up to W times the rate and burst below (compose runs 2:
2 a second, 10 at once). That is why they are sized for one person and no lower: a player
must never be refused whichever worker answers, and the bound that matters against a
script, W per second per browser id and one vote per pair, holds without the workers
sharing anything. Counting across workers exactly would cost a database round trip per
vote, the thing the group commit (`commit.py`) removed.

Nothing here is stored: the buckets go with the process. Time comes from the one clock
(`pipeline.lib.core.clock`), so tests pin it.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime

from pipeline.lib.core import clock

# A person answers a round in a second or more; a few quick ones in a row are fine. Per
# process: with W workers a browser id may get W times both (see above).
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
