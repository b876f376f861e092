"""Collect a day's photos: choose them, store their bytes, record them. Idempotent.

A day that already has its photos is not asked of the source again (no API budget spent,
no second download-tracking call; only a tracking call that failed before is made again).
Each photo is committed as soon as it is stored, and a photo that cannot be fetched or
decoded is recorded with its error while the rest go on.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import select

from pipeline.lib import clock
from pipeline.lib.db import Database, InspirationImage
from pipeline.lib.images import ImageError, decode_image, sniff_content_type
from pipeline.lib.sources import PhotoFetchError, PhotoSource, SourcePhoto
from pipeline.lib.storage import ObjectStore

log = logging.getLogger(__name__)

EXTENSIONS = {"image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp", "image/gif": ".gif"}

PHOTO_COLUMNS = (
    "id", "source", "source_id", "day", "rank", "status", "error", "title", "description",
    "width", "height", "likes", "published_at", "photographer_name", "photographer_url",
    "page_url", "display_url", "license", "credit", "object_key", "content_type", "sha256",
)  # fmt: skip


@dataclass
class DayCollection:
    day: date
    rows: list[dict[str, Any]]
    fetched: int = 0
    reused: bool = False
    failures: list[tuple[str, str]] = field(default_factory=list)

    @property
    def stored(self) -> int:
        return sum(1 for row in self.rows if row["status"] == "stored")


def original_key(sha256: str, content_type: str) -> str:
    """Originals are keyed by content: the same photo on two days is stored once."""
    return f"originals/{sha256[:2]}/{sha256}{EXTENSIONS.get(content_type, '.bin')}"


def collect_day(
    day: date, *, source: PhotoSource, store: ObjectStore, db: Database, count: int
) -> DayCollection:
    existing = db.day_inspirations(day, source.name)
    if sum(1 for photo in existing if photo.status == "stored") >= count:
        log.info("%s: %d photos already stored; the source is not asked again", day, count)
        for record in existing:  # except for a download-tracking call that failed before
            if record.status == "stored":
                _track_use(day, _photo_of(record), record, source=source, db=db)
        return DayCollection(day, [row_of(photo) for photo in existing], reused=True)

    result = DayCollection(day, [])
    for photo in source.day_photos(day, count):
        record = _collect_photo(day, photo, source=source, store=store, db=db)
        if record.status == "stored":
            result.fetched += 1
        else:
            result.failures.append((photo.source_id, record.error or "unknown error"))
    result.rows = [row_of(photo) for photo in db.day_inspirations(day, source.name)]
    return result


def _collect_photo(
    day: date, photo: SourcePhoto, *, source: PhotoSource, store: ObjectStore, db: Database
) -> InspirationImage:
    record = _store_photo(day, photo, source=source, store=store, db=db)
    if record.status == "stored":  # also when stored by an earlier run and not yet tracked
        _track_use(day, photo, record, source=source, db=db)
    return record


def _store_photo(
    day: date, photo: SourcePhoto, *, source: PhotoSource, store: ObjectStore, db: Database
) -> InspirationImage:
    with db.session() as session:
        record = session.scalars(
            select(InspirationImage).where(
                InspirationImage.source == photo.source,
                InspirationImage.source_id == photo.source_id,
            )
        ).one_or_none()
        if record is None:
            record = InspirationImage(source=photo.source, source_id=photo.source_id, day=day)
            session.add(record)
        _apply_metadata(record, photo)
        if record.status == "stored" and record.object_key and store.exists(record.object_key):
            return record
        try:
            data = source.fetch_image(photo)
            image = decode_image(data)
        except (PhotoFetchError, ImageError) as exc:
            log.warning("%s: photo %s not usable: %s", day, photo.source_id, exc)
            record.status, record.error = "failed", str(exc)
            return record
        content_type = sniff_content_type(data) or "application/octet-stream"
        digest = hashlib.sha256(data).hexdigest()
        key = original_key(digest, content_type)
        if not store.exists(key):
            store.put(key, data, content_type)
        record.object_key, record.content_type = key, content_type
        record.sha256, record.byte_size = digest, len(data)
        record.width, record.height = image.size
        record.status, record.error = "stored", None
        session.flush()
    return record


def _track_use(
    day: date, photo: SourcePhoto, record: InspirationImage, *, source: PhotoSource, db: Database
) -> None:
    # Tracking happens after the photo is safely recorded, once per photo; a failure is
    # logged and retried on a later run (even of a complete day) rather than failing the day.
    if record.download_tracked_at is not None:
        return
    try:
        source.track_use(photo)
    except Exception as exc:  # best effort by the source's own rules
        log.warning("%s: download tracking failed for %s: %s", day, photo.source_id, exc)
        return
    with db.session() as session:
        tracked = session.get(InspirationImage, record.id)
        assert tracked is not None
        tracked.download_tracked_at = clock.utc_now()


def _photo_of(record: InspirationImage) -> SourcePhoto:
    """What a source needs to track a stored photo again: its id and credit data."""
    return SourcePhoto(
        source=record.source,
        source_id=record.source_id,
        rank=record.rank,
        image_ref=record.object_key or "",
        display_url=record.display_url,
        credit=dict(record.credit or {}),
    )


def _apply_metadata(record: InspirationImage, photo: SourcePhoto) -> None:
    record.rank = photo.rank
    for name in (
        "title", "description", "likes", "published_at", "photographer_name",
        "photographer_url", "page_url", "display_url", "license",
    ):  # fmt: skip
        setattr(record, name, getattr(photo, name))
    record.credit = dict(photo.credit)
    if record.width is None:
        record.width, record.height = photo.width, photo.height


def row_of(photo: InspirationImage) -> dict[str, Any]:
    row = {name: getattr(photo, name) for name in PHOTO_COLUMNS}
    row["day"] = photo.day.isoformat()
    if photo.published_at is not None:
        row["published_at"] = photo.published_at.isoformat()
    return row
