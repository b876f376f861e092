"""Bounded retries for the project's own HTTP clients (httpx).

One policy for every external call: a retry budget, exponential backoff with jitter, a
server's Retry-After honoured up to a cap, and only failures a retry can fix are retried
(timeouts, dropped connections, 5xx and whatever statuses the caller names).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

import httpx

from pipeline.lib.core import clock

log = logging.getLogger(__name__)

RETRYABLE_STATUSES = frozenset({500, 502, 503, 504})


@dataclass(frozen=True)
class HttpRetry:
    """How often one HTTP request is tried and how long to wait between tries (not
    Dagster's `RetryPolicy`, which re-runs a whole step)."""

    attempts: int = 3  # total tries, the first included
    backoff_s: float = 0.5
    max_backoff_s: float = 8.0
    max_retry_after_s: float = 30.0  # a longer Retry-After is cut to this

    def delay(self, attempt: int, response: httpx.Response | None, rng: random.Random) -> float:
        """Seconds to wait before try `attempt + 1` (attempt counts from 1)."""
        advised = retry_after_seconds(response) if response is not None else None
        if advised is not None:
            return min(advised, self.max_retry_after_s)
        backoff = min(self.max_backoff_s, self.backoff_s * 2 ** (attempt - 1))
        return backoff * rng.uniform(0.75, 1.0)


def retry_after_seconds(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        return max(0.0, when.timestamp() - clock.utc_now().timestamp())


def send_with_retries(
    client: httpx.Client,
    method: str,
    url: str,
    *,
    policy: HttpRetry,
    retry_statuses: Collection[int] = RETRYABLE_STATUSES,
    sleep: Callable[[float], None] = time.sleep,
    rng: random.Random | None = None,
    stream: bool = False,
    **kwargs: object,
) -> httpx.Response:
    """Send a request, retrying within `policy`. Returns the last response (whatever its
    status) or raises the last transport error (`httpx.TimeoutException`,
    `httpx.TransportError`) once the budget is spent.

    With `stream=True` the body is left unread (so the caller can cap its size while
    reading) and the caller must close the response."""
    rng = rng or random.Random()
    for attempt in range(1, policy.attempts + 1):
        response: httpx.Response | None = None
        try:
            if stream:
                request = client.build_request(method, url, **kwargs)  # type: ignore[arg-type]
                response = client.send(request, stream=True)
            else:
                response = client.request(method, url, **kwargs)  # type: ignore[arg-type]
        except httpx.TransportError as exc:  # timeouts, resets, refused connections
            if attempt == policy.attempts:
                raise
            log.warning("%s %s: %s (try %d/%d)", method, _safe(url), exc, attempt, policy.attempts)
        else:
            if response.status_code not in retry_statuses or attempt == policy.attempts:
                return response
            log.warning(
                "%s %s: HTTP %d (try %d/%d)",
                method,
                _safe(url),
                response.status_code,
                attempt,
                policy.attempts,
            )
            response.close()
        sleep(policy.delay(attempt, response, rng))
    raise AssertionError("unreachable")  # pragma: no cover


def _safe(url: str) -> str:
    """The URL without its query string, which may carry a key."""
    return url.split("?", 1)[0]
