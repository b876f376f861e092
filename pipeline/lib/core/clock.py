"""The one place Doppel asks what time it is.

Everything that needs "now" or "today" (the gap-fill sensor, the newest partition, the
budget's day, the exporter's days-behind, `doppel status`, row timestamps) calls `utc_now()`
or `utc_today()`. Tests pin it with `pinned(...)` and build their records relative to it,
so no test depends on the calendar.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


_source: Clock = system_clock


def utc_now() -> datetime:
    """The current instant, timezone-aware, in UTC."""
    return _source().astimezone(UTC)


def utc_today() -> date:
    return utc_now().date()


@contextmanager
def pinned(at: datetime | Clock) -> Iterator[None]:
    """Within the block, `utc_now()` answers `at` (an instant, or a clock to ask)."""
    global _source
    if isinstance(at, datetime):
        if at.tzinfo is None:
            raise ValueError("pin the clock to an aware datetime (tzinfo=UTC)")
        fixed = at

        def source() -> datetime:
            return fixed
    else:
        source = at
    previous, _source = _source, source
    try:
        yield
    finally:
        _source = previous


def not_after_now(when: datetime, now: datetime) -> datetime:
    """A stamp later than `now` is clock skew (another process, another host): treat it as now."""
    return min(when, now)


def as_utc(when: datetime) -> datetime:
    """A stored stamp as an aware UTC datetime (SQLite hands stamps back without a zone;
    Doppel writes them all in UTC)."""
    return when.astimezone(UTC) if when.tzinfo else when.replace(tzinfo=UTC)
