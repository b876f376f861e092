"""WebP copies of the images the site serves itself: look-alikes and bundled/local photos.

Each source image gets a thumbnail (480 px on the long side) and a large copy (1280 px), or
a single file when the image is no bigger than a thumbnail. Files are named by the source's
SHA-256, so a source is fetched, decoded and encoded once, ever: later builds find its
entry in the site manifest and skip it without reading the source. Unsplash originals are
never copied: the gallery shows them from Unsplash's own URLs.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

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
    """The renditions of the sources a build shows: reused from the last build, or made when
    first asked for (`of`), so that a build can make a day's copies while the pages of the
    days before it render. `close()` records them all in the writer's manifest.

    A source that cannot be read or decoded is left out (its page says the image is
    unavailable) and reported; it is tried again on the next build.
    """

    def __init__(self, data_store: ObjectStore, writer: SiteWriter, *, workers: int = 2):
        self.data_store, self.writer = data_store, writer
        self.found: dict[str, Media] = {}
        self.report = MediaReport()
        # Decoding, resizing and WebP encoding release the GIL, so threads use both cores.
        self._pool = ThreadPoolExecutor(max_workers=max(1, workers))

    def of(self, sources: Iterable[MediaSource]) -> dict[str, Media]:
        """The copies of `sources` that have one, made now if the last build had none."""
        sources = list(sources)
        todo: dict[str, MediaSource] = {}
        for source in sources:
            if source.id in self.found or source.id in self.report.failed or source.id in todo:
                continue
            cached = Media.from_record(self.writer.old_media.get(source.id))
            if cached is not None and all(
                self.writer.has(r.path) for r in (cached.thumb, cached.large)
            ):
                for path in {cached.thumb.path, cached.large.path}:
                    self.writer.keep(path)
                self.found[source.id] = cached
                self.report.reused += 1
            else:
                todo[source.id] = source
        for source, result in self._pool.map(self._make, todo.values()):
            if isinstance(result, Media):
                self.found[source.id] = result
                self.report.made += 1
            else:
                log.warning("no gallery copy of %s", result)
                self.report.failed[source.id] = result
        return {s.id: self.found[s.id] for s in sources if s.id in self.found}

    def close(self) -> None:
        self._pool.shutdown()
        for source_id, media in self.found.items():
            self.writer.media[source_id] = media.as_record()

    def _make(self, source: MediaSource) -> tuple[MediaSource, Media | str]:
        try:
            return source, _make(source, self.data_store, self.writer)
        except (ObjectNotFound, ImageError) as exc:
            return source, f"{source.object_key}: {exc}"


def _make(source: MediaSource, data_store: ObjectStore, writer: SiteWriter) -> Media:
    image = decode_image(data_store.get(source.object_key))
    renditions: list[Rendition] = []
    for side in (THUMB_SIDE, LARGE_SIDE):
        scaled = image if max(image.size) <= side else resize_long_side(image, side)
        path = media_path(source.id, side)
        writer.file(path, encode_image(scaled, "WEBP", **WEBP_OPTIONS))
        renditions.append(Rendition(path, scaled.width, scaled.height))
        if scaled is image:  # already no bigger than this side: one file serves both
            break
    return Media(renditions[0], renditions[-1])
