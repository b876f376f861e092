"""WebP copies of the images the site serves itself: look-alikes and bundled/local photos.

Each source image gets a thumbnail (480 px on the long side) and a large copy (1280 px), or
a single file when the image is no bigger than a thumbnail. Files are named by the source's
SHA-256, so a source is fetched, decoded and encoded once, ever: later builds find its
entry in the site manifest and skip it without reading the source. The main process reads
the sources; the render workers decode and encode them with their day's pages (the CPU
of a full build is mostly these copies, and the workers are what uses both cores).
Unsplash originals are never copied: the gallery shows them from Unsplash's own URLs.
"""

from __future__ import annotations

import hashlib
import io
import logging
import threading
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from PIL import Image, UnidentifiedImageError

from pipeline.lib.core.images import ImageError, decode_image, encode_image, resize_long_side
from pipeline.lib.core.storage import ObjectNotFound, ObjectStore
from pipeline.lib.site.publish import SiteWriter

log = logging.getLogger(__name__)

THUMB_SIDE = 480
LARGE_SIDE = 1280
WEBP_OPTIONS: dict[str, Any] = {"quality": 82, "method": 4}


@dataclass(frozen=True)
class MediaSource:
    """An image in the data store that the site shows a copy of."""

    object_key: str
    sha256: str | None

    @property
    def id(self) -> str:
        # The row's content hash names the copies; a row without one falls back to its key.
        return self.sha256 or hashlib.sha256(self.object_key.encode()).hexdigest()


@dataclass(frozen=True)
class Rendition:
    path: str
    width: int
    height: int


@dataclass(frozen=True)
class Media:
    thumb: Rendition
    large: Rendition

    def as_record(self) -> dict[str, list[Any]]:
        return {
            name: [r.path, r.width, r.height]
            for name, r in (("thumb", self.thumb), ("large", self.large))
        }

    @classmethod
    def from_record(cls, record: Any) -> Media | None:
        try:
            thumb, large = (
                Rendition(str(p), int(w), int(h)) for p, w, h in (record["thumb"], record["large"])
            )
        except (KeyError, TypeError, ValueError):
            return None
        return cls(thumb, large)


@dataclass
class MediaReport:
    made: int = 0
    reused: int = 0
    failed: dict[str, str] = field(default_factory=dict)


def media_path(source_id: str, side: int) -> str:
    return f"media/{source_id[:2]}/{source_id}-{side}.webp"


class MediaCopies:
    """The renditions of the sources a build shows: reused from the last build, or made in
    the render workers with the pages of the day that first shows them (`plan` reads what
    they need, `record` publishes what they made). `close()` records them all in the
    writer's manifest.

    A source that cannot be read or decoded is left out (its page says the image is
    unavailable) and reported; it is tried again on the next build.
    """

    def __init__(self, data_store: ObjectStore, writer: SiteWriter, *, workers: int = 2):
        self.data_store, self.writer = data_store, writer
        self.found: dict[str, Media] = {}
        self.report = MediaReport()
        # Reads only (on S3 each is a GET): decoding and encoding happen in the workers.
        self._pool = ThreadPoolExecutor(max_workers=max(1, workers))
        self._listed: set[str] | None = None  # the site's media files, if looked for
        self._listing = threading.Lock()

    def plan(self, sources: Iterable[MediaSource]) -> tuple[dict[str, Media], list[ToMake]]:
        """The copies of `sources` there already (from the last build or made for an earlier
        day), and the sources still to copy with their bytes. A source whose copy is being
        made for an earlier day is read and copied again: its pages need the copy's record,
        which comes back with that day's pages (the same bytes; published once)."""
        there: dict[str, Media] = {}
        todo: dict[str, MediaSource] = {}
        for source in sources:
            if source.id in there or source.id in todo or source.id in self.report.failed:
                continue
            if source.id in self.found:
                there[source.id] = self.found[source.id]
                continue
            cached = Media.from_record(self.writer.old_media.get(source.id))
            if cached is not None and all(
                self.writer.has(r.path) for r in (cached.thumb, cached.large)
            ):
                for path in {cached.thumb.path, cached.large.path}:
                    self.writer.keep(path)
                self.found[source.id] = there[source.id] = cached
                self.report.reused += 1
            else:
                todo[source.id] = source
        make: list[ToMake] = []
        for source, data in self._pool.map(self._read, todo.values()):
            if isinstance(data, bytes):
                make.append((source.id, source.object_key, data))
            elif isinstance(data, str):
                self._failed(source.id, data)
            else:
                media, files = data
                for path, digest in files:
                    self.writer.adopt(path, digest)
                self.found[source.id] = there[source.id] = media
                self.report.reused += 1
        return there, make

    def record(self, made: dict[str, Made], failed: dict[str, str]) -> None:
        """Publish the copies a worker made, and report those it could not make."""
        for source_id, (record, files) in made.items():
            media = Media.from_record(record)
            if media is None or source_id in self.found:
                continue
            self.found[source_id] = media
            self.report.made += 1
            for path, data in files:
                self.writer.file(path, data)
        for source_id, message in failed.items():
            self._failed(source_id, message)

    def close(self) -> None:
        self._pool.shutdown()
        for source_id, media in self.found.items():
            self.writer.media[source_id] = media.as_record()

    def _failed(self, source_id: str, message: str) -> None:
        if source_id not in self.report.failed:
            log.warning("no gallery copy of %s", message)
            self.report.failed[source_id] = message

    def _read(self, source: MediaSource) -> tuple[MediaSource, bytes | Published | str]:
        """The copies of `source` if they are published already, else its bytes to copy, or
        why it cannot be read."""
        published = self._published(source) if source.sha256 and self.writer.unknown else None
        if published is not None:
            return source, published
        try:
            return source, self.data_store.get(source.object_key)
        except ObjectNotFound as exc:
            return source, f"{source.object_key}: {exc}"

    def _published(self, source: MediaSource) -> Published | None:
        """The copies of `source` found in the site, made by a build whose manifest is not
        trusted (a forced build, a lost manifest, a site rebuilt in place): their
        names carry the source's SHA-256 and the renditions are fixed, so files under those
        names are its copies (published whole: an atomic rename, or one S3 PUT). A thumbnail
        exactly as long as THUMB_SIDE without a large copy is either the only copy of a
        source that size or a build that stopped between the two files: the source's header
        says which."""
        store, key = self.writer.store, self.writer.key
        with self._listing:
            if self._listed is None:
                # One listing, not a GET per source (on S3, 100,000 misses in a new site).
                self._listed = set(store.list(key("media/")))
        if key(media_path(source.id, THUMB_SIDE)) not in self._listed:
            return None
        renditions: list[Rendition] = []
        files: list[tuple[str, str]] = []
        try:
            for side in (THUMB_SIDE, LARGE_SIDE):
                path = media_path(source.id, side)
                try:
                    if key(path) not in self._listed:
                        raise ObjectNotFound(path)
                    data = store.get(key(path))
                except ObjectNotFound:
                    if (
                        side == THUMB_SIDE
                        or max(_size(self.data_store.get(source.object_key))) > THUMB_SIDE
                    ):
                        return None
                    break  # the source is no bigger than a thumbnail: its only copy
                width, height = _size(data)
                renditions.append(Rendition(path, width, height))
                files.append((path, hashlib.sha256(data).hexdigest()))
                if max(width, height) < THUMB_SIDE:  # the source itself was smaller: one file
                    break
        except (ObjectNotFound, UnidentifiedImageError, OSError, ValueError):
            return None  # made (or found unreadable) as if never published
        return Media(renditions[0], renditions[-1]), files


ToMake = tuple[str, str, bytes]
"""(source id, object key, the source's bytes): a copy for a render worker to make"""
Published = tuple[Media, list[tuple[str, str]]]
"""A source's copies found in the site: the copy, and [(path, SHA-256 of its bytes)]"""
Made = tuple[dict[str, list[Any]], list[tuple[str, bytes]]]
"""(`Media.as_record()`, [(path, WebP bytes)]): a copy a render worker made"""


def _size(data: bytes) -> tuple[int, int]:
    """An image's width and height, from its header (nothing decoded)."""
    with Image.open(io.BytesIO(data)) as image:
        return image.size


def make_copies(make: list[ToMake]) -> tuple[dict[str, Made], dict[str, str]]:
    """Make the WebP copies of `make` (in a render worker, or here): those made, by source
    id, and a one-line failure for each source that could not be decoded."""
    made: dict[str, Made] = {}
    failed: dict[str, str] = {}
    for source_id, object_key, data in make:
        try:
            made[source_id] = _make(source_id, data)
        except ImageError as exc:
            failed[source_id] = f"{object_key}: {exc}"
    return made, failed


def _make(source_id: str, data: bytes) -> Made:
    image = decode_image(data)
    renditions: list[Rendition] = []
    files: list[tuple[str, bytes]] = []
    for side in (THUMB_SIDE, LARGE_SIDE):
        scaled = image if max(image.size) <= side else resize_long_side(image, side)
        path = media_path(source_id, side)
        files.append((path, encode_image(scaled, "WEBP", **WEBP_OPTIONS)))
        renditions.append(Rendition(path, scaled.width, scaled.height))
        if scaled is image:  # already no bigger than this side: one file serves both
            break
    return Media(renditions[0], renditions[-1]).as_record(), files
