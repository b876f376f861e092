"""Photos by outcome: how a sorted failure settles into a photo's outcome (`settle`); a
day's outcomes in words, what `doppel run` says of each day it made (e.g. "14 of 15
look-alikes; 1 failed: panorama (the image is 4000×20 px, 200:1; ...)"); and the photos
waiting for a retry, which the gap-fill sensor asks for again."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import func, select, true

from pipeline.lib.core import clock
from pipeline.lib.core.clock import as_utc
from pipeline.lib.db import Database, DaySource, LookAlike, Outcome, Photo, photo_is_used
from pipeline.lib.failures import Sorted


@dataclass(frozen=True)
class PhotoRetry:
    """When a photo that failed for a reason that may pass is asked for again: `first_wait`
    after its first failure, doubling after each one in a row; after `max_failures` in a
    row it has failed for good (until a person runs `doppel retry`)."""

    first_wait: timedelta = timedelta(minutes=30)
    max_failures: int = 3

    def wait(self, failures: int) -> timedelta:
        return self.first_wait * 2 ** max(0, failures - 1)


def settle(
    photo: Photo, failures: int, found: Sorted, slots_left: int | None, retry: PhotoRetry
) -> tuple[Outcome, str, datetime | None, int]:
    """(outcome, reason, retry at, failures in a row) for a sorted failure: one that may
    pass waits, unless the photo has failed too often in a row or has no paid attempt left."""
    if found.outcome is not Outcome.WAITING:
        return found.outcome, found.reason, None, failures
    if not found.the_photos:  # the day's spending, or a generator that stopped the day
        return Outcome.WAITING, found.reason, found.retry_at, failures
    failures += 1
    again = f"`doppel retry {photo.day.isoformat()} --photo {photo.id}`"
    if failures >= retry.max_failures:
        return (
            Outcome.FAILED,
            (f"{found.reason} ({failures} failures in a row; {again} asks again)"),
            None,
            failures,
        )
    if slots_left is not None and slots_left <= 0:
        return (
            Outcome.FAILED,
            (f"{found.reason} (its paid attempts are used up; {again} allows more)"),
            None,
            failures,
        )
    now = clock.utc_now()
    retry_at = max(now + retry.wait(failures), found.retry_at or now)
    return Outcome.WAITING, found.reason, retry_at, failures


NOT_MADE = "not made"  # a photo of the day with no outcome yet (its step stopped first)
# The outcomes a day's line names, in this order, with their words.
NAMED = {
    Outcome.REFUSED: "refused",
    Outcome.FAILED: "failed",
    Outcome.WAITING: "waiting for a retry",
    NOT_MADE: "not made yet",
}
NAMES_SHOWN = 3  # photos named per outcome; the rest are counted
REASON_CHARS = 160


@dataclass
class DayOutcomes:
    photos: int = 0  # look-alikes wanted: the day's photos, times its generators
    # outcome -> (photo, reason) for every look-alike wanted and not made
    left: dict[str, list[tuple[str, str]]] = field(default_factory=dict)

    @property
    def made(self) -> int:
        return self.photos - sum(len(items) for items in self.left.values())

    @property
    def final(self) -> bool:
        """Every photo has a final outcome: nothing waits, nothing is still to make."""
        return not self.left.get(Outcome.WAITING) and not self.left.get(NOT_MADE)

    def line(self) -> str:
        parts = [f"{self.made} of {self.photos} look-alikes"]
        for outcome, words in NAMED.items():
            items = self.left.get(outcome, [])
            if not items:
                continue
            named = ", ".join(f"{name} ({reason})" for name, reason in items[:NAMES_SHOWN])
            more = f", and {len(items) - NAMES_SHOWN} more" if len(items) > NAMES_SHOWN else ""
            parts.append(f"{len(items)} {words}: {named}{more}")
        return "; ".join(parts)


def day_outcomes(photos: Iterable[Photo], generators: Sequence[str] = ()) -> DayOutcomes:
    """The outcomes of the day's photos (its used photos, as the gallery counts them): one
    look-alike of each by each of `generators` (none named: by those that were asked, or
    one), each named with its generator when there are several."""
    found = DayOutcomes()
    for photo in photos:
        if not photo.used:
            continue
        wanted: list[str | None] = list(generators)
        wanted = wanted or [g.generator for g in photo.look_alikes] or [None]
        for generator in wanted:
            found.photos += 1
            made = photo.look_alike_by(generator) if generator is not None else None
            status = made.status if made is not None else NOT_MADE
            if status == Outcome.SUCCEEDED:
                continue
            if made is None:
                reason = "its day stopped before it was made"
            else:
                reason = " ".join((made.error or "no reason recorded").split())
            if len(reason) > REASON_CHARS:
                reason = reason[: REASON_CHARS - 1] + "…"
            name = photo.title or photo.source_id
            if len(wanted) > 1:
                name = f"{name} by {generator}"
            found.left.setdefault(status, []).append((name, reason))
    return found


@dataclass(frozen=True)
class Waiting:
    """A day's photos waiting for a retry: how many, and when the first may be asked again
    (None: at once)."""

    photos: int
    due_at: datetime | None


def waiting_photos(
    db: Database, days: Iterable[date], lineup: Sequence[str] | None = None
) -> dict[date, Waiting]:
    """The days among `days` with photos (of the day's source, used) waiting for a retry by
    a generator of the `lineup` (any, if None): a generator taken out of it asks for none."""
    of_the_day = DaySource.source.is_(None) | (DaySource.source == Photo.source)
    by_lineup = true() if lineup is None else LookAlike.generator.in_(lineup)
    with db.session() as session:
        rows = session.execute(
            select(
                Photo.day,
                func.count(),
                func.min(LookAlike.retry_at),
                func.count(LookAlike.retry_at),
            )
            .select_from(LookAlike)
            .join(LookAlike.photo)
            .outerjoin(DaySource, DaySource.day == Photo.day)
            .where(
                Photo.day.in_(list(days)),
                LookAlike.status == Outcome.WAITING,
                photo_is_used(),
                of_the_day,
                by_lineup,
            )
            .group_by(Photo.day)
        ).all()
    # A photo without a time is due at once, so the day is.
    return {
        day: Waiting(int(n), as_utc(first) if first is not None and timed == n else None)
        for day, n, first, timed in rows
    }
