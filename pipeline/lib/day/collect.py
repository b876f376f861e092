"""Collect a day's photos: choose them, store their bytes, track their use, record them.

A photo is *used* (one of the day's photos, handed to the generator) only once its download
has been tracked with the source. Before a photo is stored, one tracking call must be left in
the run's call budget and Unsplash's hourly remainder; a photo without one waits for a later
run (`waiting`). A tracking call is tried once per run, counted before it is sent, and given
up after `TRACKING_ATTEMPTS` tries over runs: the photo is then "untracked" and not used.

Crash between a tracking call and its save: at-least-once. The attempt is recorded first and
the success after, so a crash in between tracks that photo again on the next run. A second
download event for one photo is a small over-count for Unsplash; at-most-once could leave a
used photo never tracked, which the guidelines forbid.

One source per day: the first collection of a day records its source; a run with another
source leaves that day as it is (`doppel redo DAY` hands it to the new source).

Idempotent, also when runs overlap: one collector works on a day at a time (the day's
database lock, `collect_lock`), and a day whose photos are settled is not listed again (no
API budget spent; only pending tracking calls are made). So two runs of one day end with one
set of rows, tracked once, and neither records the other's photos as failed. Each photo is
committed on its own, and any error while storing one (a fetch, a decode, its database row)
rolls back that photo alone and records it with a one-line reason while the rest go on. A URL
refused by the URL policy is never retried.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pipeline.lib.core import clock
from pipeline.lib.core.images import ImageError, decode_image, sniff_content_type
from pipeline.lib.core.storage import ObjectStore
from pipeline.lib.day.tables import DayTable, photos_of_day, photos_table
from pipeline.lib.db import Database, Photo
from pipeline.lib.sources import (
    ListedPhoto,
    PhotoFetchError,
    PhotoRefused,
    PhotoSource,
    SourceLimitReached,
)

log = logging.getLogger(__name__)

EXTENSIONS = {"image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp", "image/gif": ".gif"}
# Tries of one photo's download tracking, over all runs (one per run).
TRACKING_ATTEMPTS = 5
# Statuses a re-listing of the feed cannot change: the day is settled when K photos have one.
SETTLED = ("stored", "refused", "untracked")


@dataclass
class DayCollection:
    day: date
    table: DayTable  # the day's photos table, built from its records after this run
    fetched: int = 0
    reused: bool = False
    failures: list[tuple[str, str]] = field(default_factory=list)
    waiting: int = 0  # photos chosen but not stored: no tracking call was left for them
    kept_source: str | None = None  # set when the day keeps another source than the run's

    @property
    def rows(self) -> tuple[dict[str, Any], ...]:
        return self.table.rows

    @property
    def stored(self) -> int:
        return sum(1 for row in self.rows if row["status"] == "stored")

    @property
    def used(self) -> int:
        return sum(1 for row in self.rows if row["used"])

    @property
    def untracked(self) -> int:
        """Stored photos whose tracking is still to be done (not used yet)."""
        return self.stored - self.used

    @property
    def ok(self) -> bool:
        """Every photo the day keeps is used, and none waits for a tracking call."""
        return self.untracked == 0 and self.waiting == 0


def photo_key(sha256: str, content_type: str) -> str:
    """A stored photo's key, by content: the same photo on two days is stored once. (The
    `originals/` prefix stays: stored objects and published pages point at it.)"""
    return f"originals/{sha256[:2]}/{sha256}{EXTENSIONS.get(content_type, '.bin')}"


def collect_day(
    day: date, *, source: PhotoSource, store: ObjectStore, db: Database, count: int
) -> DayCollection:
    """Collect `day`, one collector at a time: a run that finds another collecting the same
    day waits for it, then finds the day settled and reuses its rows."""
    with db.lock(collect_lock(day)):
        return _collect_day(day, source=source, store=store, db=db, count=count)


def collect_lock(day: date) -> str:
    """The database lock a day's collection holds (whatever its source)."""
    return f"collect {day.isoformat()}"


def _collect_day(
    day: date, *, source: PhotoSource, store: ObjectStore, db: Database, count: int
) -> DayCollection:
    day_source = db.claim_day(day, source.name)
    if day_source != source.name:  # one source per day: the change applies to new days
        log.warning(
            "%s was collected from %s and keeps it (now %s); `doppel redo %s` re-collects it",
            day,
            day_source,
            source.name,
            day,
        )
        kept = photos_table(day, photos_of_day(db, day, day_source))
        return DayCollection(day, kept, reused=True, kept_source=day_source)
    existing = photos_of_day(db, day, source.name)
    result = DayCollection(day, photos_table(day, []))
    if sum(1 for photo in existing if photo.status in SETTLED) >= count:
        log.info("%s: %d photos already settled; the source is not asked again", day, count)
        result.reused = True
        pending = [r for r in existing if r.status == "stored" and r.download_tracked_at is None]
        for record in pending:  # except for download tracking still to be done
            if not _track_use(day, _photo_of(record), record.id, source=source, db=db):
                break
    else:
        for photo in source.day_photos(day, count):
            collected = _collect_photo(day, photo, source=source, store=store, db=db)
            if collected is None:
                result.waiting += 1
            elif collected.status == "stored":
                result.fetched += 1
            else:
                result.failures.append((photo.source_id, collected.error or "unknown error"))
    result.table = photos_table(day, photos_of_day(db, day, source.name))
    return result


def _collect_photo(
    day: date, photo: ListedPhoto, *, source: PhotoSource, store: ObjectStore, db: Database
) -> Photo | None:
    """The photo's record after this run, or None when it must wait for a tracking call."""
    known = _record_of(photo, db)
    if known is not None and (known.status in ("refused", "untracked") or known.used):
        return known
    if known is None or known.download_tracked_at is None:
        left = source.tracking_calls_left()
        if left is not None and left < 1:  # reserve the tracking call before using the photo
            log.warning("%s: no tracking call left for %s; it waits", day, photo.source_id)
            return None
    try:
        record = _store_photo(day, photo, source=source, store=store, db=db)
    except Exception as exc:  # one photo's trouble, its database row included, stays its own
        reason = _one_line(exc)
        log.warning("%s: photo %s not stored: %s", day, photo.source_id, reason)
        return _record_failure(day, photo, "failed", reason, db)
    if record.status == "stored" and record.download_tracked_at is None:
        _track_use(day, photo, record.id, source=source, db=db)
        return _record_of(photo, db)
    return record


def _store_photo(
    day: date, photo: ListedPhoto, *, source: PhotoSource, store: ObjectStore, db: Database
) -> Photo:
    with db.session() as session:
        record = _row_for(session, day, photo)
        _apply_metadata(record, photo)
        if record.status == "stored" and record.object_key and store.exists(record.object_key):
            return record
        try:
            data = source.fetch_image(photo)
            image = decode_image(data)
        except (PhotoFetchError, ImageError) as exc:
            status = "refused" if isinstance(exc, PhotoRefused) else "failed"
            log.warning("%s: photo %s %s: %s", day, photo.source_id, status, exc)
            record.status, record.error = status, _one_line(exc, with_type=False)
            return record
        content_type = sniff_content_type(data) or "application/octet-stream"
        digest = hashlib.sha256(data).hexdigest()
        key = photo_key(digest, content_type)
        if not store.exists(key):
            store.put(key, data, content_type)
        record.object_key, record.content_type = key, content_type
        record.sha256, record.byte_size = digest, len(data)
        record.width, record.height = image.size
        record.status, record.error = "stored", None
        session.flush()
    return record


def _track_use(
    day: date, photo: ListedPhoto, record_id: int, *, source: PhotoSource, db: Database
) -> bool:
    """One tracking try for a stored photo. False when no call may be sent this run."""
    left = source.tracking_calls_left()
    if left is not None and left < 1:
        log.warning("%s: no tracking call left for %s this run", day, photo.source_id)
        return False
    with db.session() as session:  # counted before it is sent: a crash still counts
        record = session.get(Photo, record_id)
        assert record is not None
        record.tracking_attempts += 1
        attempt = record.tracking_attempts
    try:
        source.track_use(photo)
    except SourceLimitReached as exc:  # rate limit or budget: not the endpoint's failure
        log.warning("%s: tracking %s postponed: %s", day, photo.source_id, exc)
        _save_tracking(record_id, db, attempt=attempt - 1, error=_one_line(exc))
        return False
    except Exception as exc:
        reason = _one_line(exc)
        log.warning(
            "%s: download tracking failed for %s (try %d of %d): %s",
            day,
            photo.source_id,
            attempt,
            TRACKING_ATTEMPTS,
            reason,
        )
        _save_tracking(record_id, db, attempt=attempt, error=reason)
        return True
    _save_tracking(record_id, db, attempt=attempt, error=None, tracked=True)
    return True


def _save_tracking(
    record_id: int, db: Database, *, attempt: int, error: str | None, tracked: bool = False
) -> None:
    with db.session() as session:
        record = session.get(Photo, record_id)
        assert record is not None
        record.tracking_attempts, record.tracking_error = attempt, error
        if tracked:
            record.download_tracked_at = clock.utc_now()
        elif error is not None and attempt >= TRACKING_ATTEMPTS:
            record.status = "untracked"
            record.error = f"download tracking failed {attempt} times, not used: {error}"


def _record_of(photo: ListedPhoto, db: Database) -> Photo | None:
    with db.session() as session:
        return _find_row(session, photo)


def _find_row(session: Session, photo: ListedPhoto) -> Photo | None:
    """The photo's row: one per (source, source_id), whatever the day."""
    return session.scalars(
        select(Photo).where(
            Photo.source == photo.source,
            Photo.source_id == photo.source_id,
        )
    ).one_or_none()


def _row_for(session: Session, day: date, photo: ListedPhoto) -> Photo:
    """The photo's row, added to the session if it has none yet."""
    record = _find_row(session, photo)
    if record is None:
        record = Photo(source=photo.source, source_id=photo.source_id, day=day, rank=photo.rank)
        session.add(record)
    return record


def _record_failure(day: date, photo: ListedPhoto, status: str, reason: str, db: Database) -> Photo:
    """The photo recorded as not usable, with only what cannot break its row again."""
    try:
        with db.session() as session:
            record = _row_for(session, day, photo)
            record.status, record.error = status, reason
            return record
    except Exception as exc:  # even the bare row cannot be written: report it in the run
        log.error("%s: photo %s cannot be recorded: %s", day, photo.source_id, _one_line(exc))
        return Photo(
            source=photo.source,
            source_id=photo.source_id,
            day=day,
            rank=photo.rank,
            status=status,
            error=reason,
        )


def _one_line(exc: BaseException, *, with_type: bool = True) -> str:
    first = (str(exc).strip().splitlines() or [""])[0][:300]
    return f"{type(exc).__name__}: {first}" if with_type else first or type(exc).__name__


def _photo_of(record: Photo) -> ListedPhoto:
    """What a source needs to track a stored photo again: its id and credit data."""
    return ListedPhoto(
        source=record.source,
        source_id=record.source_id,
        rank=record.rank,
        image_ref=record.object_key or "",
        display_url=record.display_url,
        credit=dict(record.credit or {}),
    )


def _apply_metadata(record: Photo, photo: ListedPhoto) -> None:
    record.rank = photo.rank
    for name in (
        "title",
        "description",
        "likes",
        "published_at",
        "photographer_name",
        "photographer_url",
        "page_url",
        "display_url",
        "license",
    ):
        setattr(record, name, getattr(photo, name))
    record.credit = dict(photo.credit)
    if record.width is None:
        record.width, record.height = photo.width, photo.height
