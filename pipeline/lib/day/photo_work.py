"""Making one photo's look-alike, from a day's worker threads: the photo claimed, loaded,
handed to the generator, the result shaped to the photo's aspect, stored (image, then
receipt) and recorded; or the failure sorted and recorded as the photo's outcome.

A photo that another run holds is left to it; one that another run settled since this run
read it is not made again; one whose receipt a dead run left stored is adopted, not paid
for again (each only under the photo's claim: its maker may still be measuring it).
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from datetime import date
from enum import Enum

from PIL import Image
from sqlalchemy import select

from pipeline.lib.billing.ledger import Ledger
from pipeline.lib.core.images import (
    MIN_SIDE,
    ImageError,
    crop_to_aspect,
    decode_image,
    fitted_size,
)
from pipeline.lib.core.storage import ObjectNotFound, ObjectStore
from pipeline.lib.day.claims import PhotoClaims
from pipeline.lib.day.comparing import Compare, safe_compare
from pipeline.lib.day.outcomes import PhotoRetry, settle
from pipeline.lib.day.receipts import store_generation
from pipeline.lib.day.records import adopt_receipt, record_success, row_of
from pipeline.lib.db import Database, LookAlike, Outcome, Photo
from pipeline.lib.failures import GenerationError, GeneratorUnavailable, sort_failure
from pipeline.lib.generators import ImageGenerator, LoadedPhoto

log = logging.getLogger(__name__)


class Made(Enum):
    """What `PhotoWork` did with a photo."""

    CALLED = "called"  # asked the generator (its outcome is recorded)
    NOT_CALLED = "not called"  # settled without asking (stopped, unusable, or settled since)
    ADOPTED = "adopted"  # its stored look-alike recorded (its run died before recording it)
    ELSEWHERE = "elsewhere"  # another run holds it


class PhotoWork:
    """Makes, stores and records one photo's look-alike, or records its sorted failure;
    called from the day's worker threads."""

    def __init__(
        self,
        day: date,
        generator: ImageGenerator,
        store: ObjectStore,
        db: Database,
        compare: Compare | None,
        ledger: Ledger | None,
        retry: PhotoRetry,
        claims: PhotoClaims,
        receipts: set[int],  # photos to adopt, not to make (their receipts were stored)
    ):
        self.day, self.generator, self.store, self.db = day, generator, store, db
        self.receipts = receipts
        self.compare, self.ledger, self.retry, self.claims = compare, ledger, retry, claims
        self.stopped = threading.Event()  # set at the first permanent stop: start nothing more
        self.stopped_by_budget = 0
        self.elsewhere: set[int] = set()  # photos another run held when this one came to them
        self._lock = threading.Lock()

    def __call__(self, photo: Photo) -> Made:
        if self.stopped.is_set():
            return Made.NOT_CALLED
        holder = self.claims.take(photo.id)
        if holder is not None:
            if photo.id not in self.elsewhere:
                log.info(
                    "%s: %s is being made by another run (%s); its outcome is read once that "
                    "run is done with it",
                    self.day,
                    photo.source_id,
                    holder.name,
                )
            with self._lock:
                self.elsewhere.add(photo.id)
            return Made.ELSEWHERE
        try:
            return self._make(photo)
        finally:
            self.claims.release(photo.id)

    def _make(self, photo: Photo) -> Made:
        """Make the photo this run now holds, unless it was settled since it was read or a
        run that died left its look-alike stored (adopted only under the claim: its maker
        may still be measuring it)."""
        if self._settled_since(photo):
            return Made.NOT_CALLED
        with self._lock:  # held by another run when this one first came to it, not now
            self.elsewhere.discard(photo.id)
        if adopt_receipt(self.day, photo, self.generator.name, self.store, self.db):
            return Made.ADOPTED
        if photo.id in self.receipts:  # its receipt went meanwhile: the next run sorts it
            return Made.NOT_CALLED
        try:
            loaded = self._load(photo)
        except Exception as exc:
            self._record_failure(photo, exc)
            return Made.NOT_CALLED
        started = time.monotonic()
        try:
            generation = self.generator.generate(loaded)
            if generation.seconds is None:
                generation.seconds = round(time.monotonic() - started, 3)
            generation.image = with_aspect_of(generation.image, loaded.image.size)
            record = store_generation(
                self.day, photo, self.generator.name, generation, loaded.seed, self.store
            )
            if self.compare is not None:
                record["comparisons"] = safe_compare(
                    self.compare, loaded.image, generation.image, photo, generation.quality
                )
            record_success(photo, self.generator.name, record, self.db)
        except GeneratorUnavailable as exc:
            self.stopped.set()
            self._record_failure(photo, exc)
            raise
        except Exception as exc:  # sorted and recorded: the rest of the day carries on
            self._record_failure(photo, exc)
        return Made.CALLED

    def _settled_since(self, photo: Photo) -> bool:
        """Another run recorded an outcome for the photo after this one read it (it held the
        claim then)."""
        name = self.generator.name
        done = photo.look_alike_by(name)
        seen = done.attempts if done is not None else 0
        with self.db.session() as session:
            now = session.scalar(
                select(LookAlike.attempts).where(
                    LookAlike.photo_id == photo.id, LookAlike.generator == name
                )
            )
        if (now or 0) != (seen or 0):
            with self._lock:
                self.elsewhere.add(photo.id)
            return True
        return False

    def _load(self, photo: Photo) -> LoadedPhoto:
        try:
            data = self.store.get(photo.object_key or "")
            original = decode_image(data)
        except (ObjectNotFound, ImageError) as exc:
            raise GenerationError(
                f"the stored photo is unusable: {exc}", happened="original_unusable"
            ) from exc
        return LoadedPhoto(
            image=original,
            data=data,
            content_type=photo.content_type or "application/octet-stream",
            seed=seed_for(photo),
            description=photo.description or photo.title,
            name=photo.source_id,
            photo_id=photo.id,
        )

    def _record_failure(self, photo: Photo, exc: BaseException) -> None:
        """Record the failure as the photo's outcome; a database that cannot take even this
        raises, and the step fails (a blip, for the step retry)."""
        found = sort_failure(exc)
        if not self.claims.holds(photo.id) or self._settled_since(photo):
            # Stalled past its lease, this run lost the photo to another (which may even
            # have made it by now): its outcome is that run's, never a failure of this one.
            log.warning(
                "%s: %s: %s; another run took the photo over and records its outcome",
                self.day,
                photo.source_id,
                found.reason,
            )
            with self._lock:
                self.elsewhere.add(photo.id)
            return
        if found.happened == "over_budget":
            with self._lock:
                self.stopped_by_budget += 1
        # Read before the row is locked for writing: SQLite allows one writer at a time.
        waits = found.outcome is Outcome.WAITING and found.the_photos
        name = self.generator.name
        slots_left = self.ledger.slots_left(photo.id, name) if waits and self.ledger else None
        with self.db.session() as session:
            row = row_of(session, photo, name)
            outcome, reason, retry_at, failures = settle(
                photo, row.transient_failures or 0, found, slots_left, self.retry
            )
            row.status, row.error, row.retry_at = outcome, reason[:2000], retry_at
            row.transient_failures = failures
            row.object_key = None
        log.warning("%s: %s %s %s: %s", self.day, name, photo.source_id, outcome, reason)


def with_aspect_of(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    """The look-alike with the photo's aspect ratio, at least `MIN_SIDE` px across: a
    remote server answers in its own sizes, so the centre of its picture is kept."""
    image = crop_to_aspect(image, size)
    if min(image.size) < MIN_SIDE:  # from the photo's size: a crop 1 px high has no ratio
        shape = fitted_size(size, max(image.size), min_short=MIN_SIDE)
        image = image.resize(shape, Image.Resampling.LANCZOS)
    return image


def seed_for(photo: Photo) -> int:
    """A stable seed per photo, so a retry draws the same look-alike."""
    digest = hashlib.sha256(f"{photo.source}:{photo.source_id}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF
