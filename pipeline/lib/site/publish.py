"""Publish the site into an object store under a prefix, rewriting only what changed.

A manifest stored with the site (`_doppel/manifest.json`) records, for every published file,
the SHA-256 of its bytes and, for pages, the hash of the inputs it was rendered from (plus
the image copies made and a small summary of each day, see `build.py`). A page
whose inputs are unchanged is neither rendered nor written; a page that renders to the same
bytes is not written; files no longer produced are deleted. So adding one day rewrites the
pages that day touches, not the whole gallery, and S3 static hosting sees few PUTs.

The manifest is split by month, so that a build touches what changed, not the whole history:
`_doppel/manifest.json` holds the files that are not a month's (front page, stats, static
files), each day's table version and each month's summary; `_doppel/months/<YYYY-MM>.json`
holds that month's pages, image copies and day summaries. A build loads the months it must
render (`load_month`) and writes back only those, so adding a day to ten years of days
reads and writes a few small files. Images may be shared between months, so an image copy
is deleted only by a build that loaded every month.

The manifest is trusted: if published files are removed by hand, rebuild with `force=True`
(a missing `index.html` is detected and forces a full rebuild by itself).

One builder publishes a site at a time (`publishing`): two builds that interleaved would each
write against the manifest they read first, and leave pages of one beside an index and a
manifest of the other. Under the site's database lock, held from reading the day tables and
the manifest to writing the new manifest, a second build waits, then builds on the first
one's manifest from the data as it is by then: the last build leaves the site complete and
from the newest data, whatever the target (a folder, or a prefix in S3, which cannot rename).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from pipeline.lib.core.storage import (
    LocalObjectStore,
    ObjectNotFound,
    ObjectStore,
    guess_content_type,
    write_atomically,
)


class Locks(Protocol):
    """What a build needs of the database: its named locks (a `Database`, or
    `pipeline.lib.db.locks.UrlLocks` where nothing else of it is needed)."""

    def lock(self, name: str) -> AbstractContextManager[None]: ...


log = logging.getLogger(__name__)

MANIFEST_PATH = "_doppel/manifest.json"
MANIFEST_VERSION = 2
WRITES_IN_FLIGHT = 256
_MONTH_PAGE = re.compile(r"^(?:pairs/|days/|months/|sitemaps/)(\d{4}-\d{2})[-/.]")
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
    ".json": "application/json",
    ".webp": "image/webp",
    ".xml": "application/xml; charset=utf-8",
}


def month_manifest_path(month: str) -> str:
    return f"_doppel/months/{month}.json"


def month_of(path: str) -> str | None:
    """The month whose manifest lists a page (its pair, day and month pages); None: the main
    manifest's."""
    match = _MONTH_PAGE.match(path)
    return match.group(1) if match else None


def media_paths(record: Any) -> set[str]:
    """The files of an image copy's record (`media.Media.as_record`)."""
    try:
        return {str(record[name][0]) for name in ("thumb", "large")}
    except (KeyError, TypeError, IndexError):
        return set()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def content_type(path: str) -> str:
    for suffix, kind in CONTENT_TYPES.items():
        if path.endswith(suffix):
            return kind
    return guess_content_type(path)


@contextmanager
def publishing(db: Locks, store: ObjectStore, prefix: str) -> Iterator[None]:
    """Hold the lock of the site under `prefix` in `store` for a whole build (see above)."""
    with db.lock(publish_lock(store, prefix)):
        yield


def publish_lock(store: ObjectStore, prefix: str) -> str:
    """The lock's name: the site, by where its front page is published."""
    prefix = prefix.strip("/")
    return f"publish {store.uri(f'{prefix}/index.html' if prefix else 'index.html')}"


@dataclass
class PublishCounts:
    written: int = 0  # bytes changed (or new): PUT
    unchanged: int = 0  # rendered or made again, same bytes: no PUT
    skipped: int = 0  # inputs unchanged: not even rendered
    deleted: int = 0


class SiteWriter:
    """Writes pages and files under `prefix` in `store`; call `finish()` once at the end."""

    def __init__(
        self,
        store: ObjectStore,
        prefix: str = "site",
        *,
        builder: str,
        force: bool = False,
        workers: int | None = None,
    ):
        self.store = store
        self.prefix = prefix.strip("/")
        self.builder = builder
        self.counts = PublishCounts()
        self._lock = threading.Lock()
        # A local disk needs few writers; an object store's round trips want more in flight.
        local = isinstance(store, LocalObjectStore)
        self._pool = ThreadPoolExecutor(max_workers=workers or (2 if local else 16))
        self._errors: list[BaseException] = []  # of the writes (raised by `finish`)
        # Bytes waiting for a writer are bounded: with the copies and pages made in worker
        # processes, this process hands over pages faster than a local disk takes them, and
        # a queue of 100,000 pages' bytes took the peak memory from 1.15 to 1.65 GB.
        self._room = threading.BoundedSemaphore(WRITES_IN_FLIGHT)
        old = {} if force else self._load(MANIFEST_PATH)
        if old and not self.store.exists(self.key("index.html")):
            log.info("the published index.html is missing: rebuilding every page")
            old = {}
        # No manifest trusted (forced, lost, a new site): what is published is unknown.
        self.unknown = not old
        # A new builder (templates, static files, code) changes every page's input hash by
        # itself; byte comparison still avoids rewriting pages that render the same.
        self._old_files: dict[str, dict[str, str]] = old.get("files", {})
        self.old_media: dict[str, Any] = {}  # of the loaded months
        # Day summaries were made by the code that built the last site: only reuse them if
        # that code (the builder) is the same.
        same = old.get("builder") == builder
        self.old_day_versions: dict[str, list[Any]] = old.get("days", {}) if same else {}
        self.old_months: dict[str, Any] = old.get("months", {}) if same else {}
        self.old_days: dict[str, Any] = {}  # of the loaded months
        self.known_months: set[str] = set(old.get("months", {}))
        self.loaded: set[str] = set()
        self.files: dict[str, dict[str, str]] = {}
        self.media: dict[str, Any] = {}
        self.days: dict[str, Any] = {}
        self._stale: set[str] = set()  # pages to render again next build (`forget_inputs`)

    def load_month(self, month: str) -> None:
        """Read a month's part of the last build's manifest: its pages and image copies can
        then be kept or compared, and its days' summaries reused."""
        if month in self.loaded:
            return
        self.loaded.add(month)
        if month not in self.known_months:
            return
        shard = self._load(month_manifest_path(month))
        self._old_files.update(shard.get("files", {}))
        self.old_media.update(shard.get("media", {}))
        if shard.get("builder") == self.builder:
            self.old_days.update(shard.get("days", {}))

    def key(self, path: str) -> str:
        return f"{self.prefix}/{path}" if self.prefix else path

    def uri(self, path: str) -> str:
        return self.store.uri(self.key(path))

    # Writing

    def page(self, path: str, inputs: Any, render: Callable[[], str]) -> None:
        """Render and publish `path` unless `inputs` (JSON-able) are those of the last build."""
        digest = self.needs(path, inputs)
        if digest is not None:
            self.put_page(path, render(), digest)

    def needs(self, path: str, inputs: Any) -> str | None:
        """The input digest if `path` must be rendered; None if the last build's page stands."""
        digest = sha256(json.dumps([self.builder, inputs], sort_keys=True, default=str).encode())
        old = self._old_files.get(path)
        if old is not None and old.get("inputs") == digest:
            with self._lock:
                self.files[path] = old
                self.counts.skipped += 1
            return None
        return digest

    def put_page(self, path: str, html: str, digest: str) -> None:
        self._put(path, html.encode("utf-8"), inputs=digest)

    def file(self, path: str, data: bytes) -> None:
        """Publish bytes (a static file or an image) unless the same bytes are there."""
        self._put(path, data, inputs=None)

    def has(self, path: str) -> bool:
        """Whether `path` was published by the last build (and so still is)."""
        return path in self._old_files

    def forget_inputs(self, paths: list[str]) -> None:
        """Render `paths` again next build, whatever their inputs then (pages published or
        kept with a copy missing that was planned as there)."""
        with self._lock:
            self._stale.update(paths)

    def adopt(self, path: str, digest: str) -> None:
        """Take a file found published under `path` (`digest`: its bytes' SHA-256) as this
        build's, without writing it (an image copy the manifest had no record of)."""
        with self._lock:
            self.files[path] = {"sha256": digest}
            self.counts.skipped += 1

    def keep(self, path: str) -> None:
        """Keep a file of the last build as it is (e.g. a cached thumbnail)."""
        with self._lock:
            self.files[path] = self._old_files[path]
            self.counts.skipped += 1

    def _put(self, path: str, data: bytes, *, inputs: str | None) -> None:
        # Hashing and writing happen on the pool: the caller (rendering) keeps the GIL busy,
        # and a hash that releases and re-takes it there would wait behind the writers.
        # No list of the futures: 210,000 of them (100,000 pairs) held ~0.2 GB to the end.
        self._room.acquire()
        try:
            future = self._pool.submit(self._publish, path, data, inputs)
        except BaseException:
            self._room.release()
            raise
        future.add_done_callback(self._written)

    def _written(self, future: Future[None]) -> None:
        self._room.release()
        if (error := future.exception()) is not None:
            with self._lock:
                self._errors.append(error)

    def _publish(self, path: str, data: bytes, inputs: str | None) -> None:
        digest = sha256(data)
        entry = {"sha256": digest} | ({"inputs": inputs} if inputs else {})
        old = self._old_files.get(path)
        with self._lock:
            self.files[path] = entry
            if old is not None and old.get("sha256") == digest:
                self.counts.unchanged += 1
                return
            self.counts.written += 1
        if isinstance(self.store, LocalObjectStore):
            self._write_local(self.key(path), data)
        else:
            self.store.put(self.key(path), data, content_type(path))

    def _write_local(self, key: str, data: bytes) -> None:
        """A local file, atomically (temp file + rename) but without the store's fsync.

        The site is derived data: after a crash the manifest (written last) still holds the
        old hashes, so the next build writes again whatever may have been lost. Skipping an
        fsync per file makes publishing 20,000 files several times faster.
        """
        assert isinstance(self.store, LocalObjectStore)
        write_atomically(self.store.path(key), data, durable=False)

    # Finishing

    def finish(
        self,
        days: dict[str, list[Any]] | None = None,
        months: dict[str, Any] | None = None,
        sources: dict[str, set[str]] | None = None,
    ) -> PublishCounts:
        """Wait for the writes, delete what is no longer produced, then store the manifest:
        `days` (day → [table version, shown]) and `months` (month → summary) for all of
        them; the loaded months' parts from what this build published, with the image
        copies of their `sources` (month → media ids).

        The manifest goes last: if a write fails, the next build still sees the old hashes
        for the files that failed, and writes them again. The months' parts go before the
        main one, which names the days' versions: a build that stops in between leaves days
        that look changed, and are built again.
        """
        every_month = self.known_months <= self.loaded
        try:
            for _ in range(WRITES_IN_FLIGHT):  # every write done
                self._room.acquire()
            for _ in range(WRITES_IN_FLIGHT):
                self._room.release()
            if self._errors:
                raise self._errors[0]
            stale = sorted(
                p
                for p in set(self._old_files) - set(self.files)
                if every_month or not p.startswith("media/")
            )
            for future in [self._pool.submit(self.store.delete, self.key(p)) for p in stale]:
                future.result()
            self.counts.deleted = len(stale)
        finally:
            self._pool.shutdown(wait=True)
        for path in self._stale & set(self.files):
            self.files[path] = {"sha256": self.files[path]["sha256"]}
        by_month: dict[str | None, dict[str, Any]] = {}
        for path, entry in self.files.items():
            by_month.setdefault(month_of(path), {})[path] = entry
        main_files = by_month.pop(None, {})
        for month in sorted(self.loaded):
            shard_days = {d: v for d, v in self.days.items() if d[:7] == month}
            if not shard_days:
                if month in self.known_months:
                    self.store.delete(self.key(month_manifest_path(month)))
                continue
            ids = (sources or {}).get(month, set())
            media = {source: self.media[source] for source in ids if source in self.media}
            files = by_month.get(month, {})
            for record in media.values():
                for path in media_paths(record):
                    if path in main_files:
                        files[path] = main_files.pop(path)
            self._store_json(
                month_manifest_path(month),
                {
                    "version": MANIFEST_VERSION,
                    "builder": self.builder,
                    "files": files,
                    "media": media,
                    "days": shard_days,
                },
            )
        self._store_json(
            MANIFEST_PATH,
            {
                "version": MANIFEST_VERSION,
                "builder": self.builder,
                "files": main_files,
                "days": days or {},
                "months": months or {},
            },
        )
        return self.counts

    def _store_json(self, path: str, body: dict[str, Any]) -> None:
        data = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
        self.store.put(self.key(path), data, "application/json")

    def _load(self, path: str) -> dict[str, Any]:
        try:
            body = json.loads(self.store.get(self.key(path)))
        except ObjectNotFound:
            return {}
        except ValueError:
            log.warning("the site manifest's %s is unreadable: rebuilding its pages", path)
            return {}
        if not isinstance(body, dict) or body.get("version") != MANIFEST_VERSION:
            return {}
        return body


def published_files(store: ObjectStore, prefix: str) -> dict[str, dict[str, str]]:
    """Every file the site's manifest lists (all months' parts), by path."""
    writer = SiteWriter(store, prefix, builder="")
    try:
        for month in sorted(writer.known_months):
            writer.load_month(month)
    finally:
        writer._pool.shutdown()
    return writer._old_files
