"""Make a day's look-alikes with bounded concurrency, paying for each at most once.

One call makes one generator's look-alikes (one per photo and generator); with several
generators (DOPPEL_GENERATORS) the asset calls it once for each, one after the other, and
every outcome, retry, paid cap and cost below is that generator's own.

Each success is written to the object store (image, then a JSON sidecar with what it cost)
and recorded in the database the moment it completes, so a crash loses nothing already
paid for. Each failure is sorted once (`pipeline.lib.failures.sort_failure`) and
recorded as the photo's outcome with its one-line reason: refused or failed for good (never
asked again by a run), or waiting for a retry, with when (`PhotoRetry`). A re-run skips
photos with a final outcome, adopts any stored result the database missed, and only calls
the generator for what is left.

Each photo is claimed before it is handed to the generator (`pipeline.lib.day.claims`): of
two runs of one day, in any processes, one makes each photo; the other leaves it ("made by
another run"), waits for that run to be done with it, and reads its outcome.

Each photo's `cost_usd` is what the ledger of billed requests says it cost, failed attempts
included. After a permanent stop (bad key, no quota) the next run probes with one photo
before it sends the rest, so a key that is still wrong costs one request, not a day's worth.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
import time
from collections.abc import Iterable, Mapping
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import date
from enum import Enum
from typing import Any, Protocol

from PIL import Image
from sqlalchemy import select
from threadpoolctl import threadpool_limits

from pipeline.lib.billing.ledger import Ledger
from pipeline.lib.core import clock
from pipeline.lib.core.clock import as_utc
from pipeline.lib.core.images import (
    MIN_SIDE,
    ImageError,
    crop_to_aspect,
    decode_image,
    encode_image,
    fitted_size,
)
from pipeline.lib.core.storage import ObjectNotFound, ObjectStore
from pipeline.lib.day.claims import PhotoClaims
from pipeline.lib.day.outcomes import PhotoRetry, settle
from pipeline.lib.day.tables import (
    LOOK_ALIKE_FIELDS,
    LOOK_ALIKES,
    DayTable,
    look_alikes_table,
    table,
)
from pipeline.lib.db import Database, LookAlike, Outcome, Photo
from pipeline.lib.failures import GenerationError, GeneratorUnavailable, sort_failure
from pipeline.lib.generators import Generation, ImageGenerator, LoadedPhoto

log = logging.getLogger(__name__)


class Compare(Protocol):
    """Measures a look-alike against its photo; `receipt` is the generator's quality record
    (figures its own gate measured are taken from it, not measured twice)."""

    def __call__(
        self,
        original: Image.Image,
        generated: Image.Image,
        *,
        receipt: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]: ...


@dataclass
class DayLookAlikes:
    day: date
    table: DayTable  # the day's look-alikes of this generator, from their records after this run
    generator: str = ""
    generator_calls: int = 0
    reused: int = 0
    adopted: int = 0
    stopped_by_budget: int = 0  # photos this run left waiting for the daily budget
    not_due: int = 0  # photos waiting for a retry whose time has not come
    elsewhere: int = 0  # photos another run made (or was making) while this one ran

    @property
    def rows(self) -> tuple[dict[str, Any], ...]:
        return self.table.rows

    def count(self, outcome: Outcome) -> int:
        return sum(1 for row in self.rows if row["status"] == outcome)


def look_alike_key(day: date, photo: Photo, suffix: str, generator: str | None) -> str:
    """Where `generator`'s look-alike of `photo` is stored; `generator=None` gives the key
    used before there were several generators per photo (read only, for sidecars)."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", photo.source_id).strip("_")[:80]
    named = f".{generator}" if generator is not None else ""
    return f"generated/{day.isoformat()}/{photo.id}-{safe}{named}{suffix}"


def seed_for(photo: Photo) -> int:
    """A stable seed per photo, so a retry draws the same look-alike."""
    digest = hashlib.sha256(f"{photo.source}:{photo.source_id}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


def generate_day(
    day: date,
    photo_ids: Iterable[int],
    *,
    generator: ImageGenerator,
    store: ObjectStore,
    db: Database,
    concurrency: int = 2,
    compare: Compare | None = None,
    ledger: Ledger | None = None,
    retry: PhotoRetry | None = None,
    waiting_now: bool = False,
    claims: PhotoClaims | None = None,
) -> DayLookAlikes:
    """The day's look-alikes: made, or each photo's failure recorded. A photo waiting for a
    retry is asked for again once its time has come, or at once with `waiting_now` (a person
    asked: `doppel run`); never within seconds by a step retry. A photo another run holds is
    left to it, and its outcome read once that run is done with it."""
    ids = list(photo_ids)
    result = DayLookAlikes(day, table(LOOK_ALIKES, day.isoformat(), []), generator.name)
    with db.session() as session:
        photos = list(
            session.scalars(
                select(Photo)
                .where(Photo.id.in_(ids), Photo.status == "stored")
                .order_by(Photo.rank)
            ).unique()
        )

    todo: list[Photo] = []
    receipts: set[int] = set()
    for photo in photos:
        done = photo.look_alike_by(generator.name)
        if done is not None and done.status == Outcome.SUCCEEDED and _still_stored(done, store):
            if compare is not None and _outdated(done.comparisons):
                _backfill_comparisons(photo, done, store, db, compare)
            result.reused += 1
        elif done is not None and done.status == Outcome.REFUSED:
            result.reused += 1
        elif _receipt(day, photo, generator.name, store) is not None:
            todo.append(photo)  # adopted under the photo's claim, never made again
            receipts.add(photo.id)
        elif done is not None and done.status == Outcome.FAILED:
            result.reused += 1  # for good: only `doppel retry` makes it wait again
        elif done is not None and not waiting_now and not _due(done):
            result.not_due += 1
        else:
            todo.append(photo)
    retry = retry or PhotoRetry()
    claims = claims or PhotoClaims(db)
    one = _PhotoWork(day, generator, store, db, compare, ledger, retry, claims, receipts)

    if todo:
        log.info("%s: generating %d look-alikes with %s", day, len(todo), generator.name)
    try:
        if todo and ledger is not None and ledger.last_stop(generator.name) is not None:
            log.info("%s: the last request was refused for good; probing with one photo", day)
            first = todo.pop(0)
            made = one(first)
            result.generator_calls += made is Made.CALLED
            result.adopted += made is Made.ADOPTED
            if made is Made.ELSEWHERE:
                todo.append(first)
        while todo:
            left = _make_all(one, todo, concurrency, result)
            # Each photo another run holds: wait until that run is done with it (or died and
            # its lease ran out), then go through it again: it is settled, or ours to make.
            claims.wait_until_free(photo.id for photo in left)
            todo = left
    finally:
        claims.release_all()
        if ledger is not None:
            _record_costs(ledger, [photo.id for photo in photos], db)

    result.table = look_alikes_table(db, day, ids, generator=generator.name)
    result.stopped_by_budget = one.stopped_by_budget
    result.elsewhere = len(one.elsewhere)
    return result


def _make_all(
    one: _PhotoWork, todo: list[Photo], concurrency: int, result: DayLookAlikes
) -> list[Photo]:
    """Each photo through `one`, `concurrency` at a time; returns those another run holds."""
    left: list[Photo] = []
    workers = max(1, min(concurrency, len(todo)))
    # Photos already run in parallel; BLAS threads inside each would oversubscribe the
    # cores (measured: 44 s instead of 33 s for `make run` on 2 cores).
    blas = threadpool_limits(1, user_api="blas") if workers > 1 else nullcontext()
    pool = ThreadPoolExecutor(max_workers=workers)
    with blas:
        futures = {pool.submit(one, photo): photo for photo in todo}
        try:
            pending = set(futures)
            while pending:
                # Short waits, not one long one: a signal may wake any thread, and the
                # main thread only runs Python's handler (Ctrl-C, SIGTERM) once it wakes.
                finished, pending = wait(pending, timeout=0.25, return_when=FIRST_COMPLETED)
                for future in finished:
                    made = future.result()
                    result.generator_calls += made is Made.CALLED
                    result.adopted += made is Made.ADOPTED
                    if made is Made.ELSEWHERE:
                        left.append(futures[future])
        except GeneratorUnavailable:
            # Photos not yet started are cancelled; those in flight finish and are kept.
            one.stopped.set()
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        except Exception:
            # A record the database could not take (a blip): the others still finish,
            # then the step fails and its retry goes on from what was recorded.
            pool.shutdown(wait=True)
            raise
        except BaseException:
            # An interrupt (Ctrl-C, SIGTERM; Dagster raises its own BaseException): don't
            # wait for requests in flight (up to their timeout); their ledger rows stay
            # pending, which counts them as billed.
            one.stopped.set()
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown(wait=True)
    return left


class Made(Enum):
    """What `_PhotoWork` did with a photo."""

    CALLED = "called"  # asked the generator (its outcome is recorded)
    NOT_CALLED = "not called"  # settled without asking (stopped, unusable, or settled since)
    ADOPTED = "adopted"  # its stored look-alike recorded (its run died before recording it)
    ELSEWHERE = "elsewhere"  # another run holds it


class _PhotoWork:
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
        if _adopt_sidecar(self.day, photo, self.generator.name, self.store, self.db):
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
            record = _store_generation(
                self.day, photo, self.generator.name, generation, loaded.seed, self.store
            )
            if self.compare is not None:
                record["comparisons"] = _safe_compare(
                    self.compare, loaded.image, generation.image, photo, generation.quality
                )
            _record_success(photo, self.generator.name, record, self.db)
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
            row = _row_of(session, photo, name)
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


def _store_generation(
    day: date, photo: Photo, generator: str, generation: Generation, seed: int, store: ObjectStore
) -> dict[str, Any]:
    data = encode_image(generation.image, "PNG", optimize=True)
    key = look_alike_key(day, photo, ".png", generator)
    store.put(key, data, "image/png")
    record = {
        "generator": generation.generator,
        "model": generation.model,
        "strategy": generation.strategy,
        "prompt": generation.prompt,
        "seed": seed,
        "object_key": key,
        "content_type": "image/png",
        "width": generation.image.width,
        "height": generation.image.height,
        "sha256": hashlib.sha256(data).hexdigest(),
        "cost_usd": generation.cost_usd,
        "latency_s": generation.seconds,
        "request_id": generation.request_id,
        "usage": generation.usage,
        "quality": generation.quality,
    }
    # The sidecar is the receipt: if the process dies before the database row is written,
    # the next run adopts it instead of paying for the image again.
    store.put(
        look_alike_key(day, photo, ".json", generator),
        json.dumps(record, default=str).encode(),
        "application/json",
    )
    return record


def _receipt(day: date, photo: Photo, generator: str, store: ObjectStore) -> dict[str, Any] | None:
    """The stored sidecar of `generator`'s look-alike of the photo, if its image is stored
    too: at its own key, or at the key of a version before several generators if it names
    this generator."""
    for key in (
        look_alike_key(day, photo, ".json", generator),
        look_alike_key(day, photo, ".json", None),
    ):
        try:
            record = json.loads(store.get(key))
        except (ObjectNotFound, ValueError):
            continue
        if not isinstance(record, dict) or record.get("generator") != generator:
            continue
        if store.exists(record.get("object_key", "")):
            return record
    return None


def _adopt_sidecar(
    day: date, photo: Photo, generator: str, store: ObjectStore, db: Database
) -> bool:
    record = _receipt(day, photo, generator, store)
    if record is None:
        return False
    log.info(
        "%s: adopting stored %s look-alike of %s (no new generation)",
        day,
        generator,
        photo.source_id,
    )
    _record_success(photo, generator, record, db)
    return True


def _outdated(comparisons: dict[str, Any] | None) -> bool:
    """Missing, or made before the per-image or semantic measures existed: measure again
    (it is free)."""
    return comparisons is None or not {"original", "semantic_similarity"} <= comparisons.keys()


def _due(row: LookAlike) -> bool:
    """A waiting photo's time has come (or it has none)."""
    return (
        row.status != Outcome.WAITING
        or row.retry_at is None
        or (as_utc(row.retry_at) <= clock.utc_now())
    )


def _still_stored(row: LookAlike, store: ObjectStore) -> bool:
    key = row.object_key
    return key is not None and key != "" and store.exists(key)


def _safe_compare(
    compare: Compare,
    original: Image.Image,
    generated: Image.Image,
    photo: Photo,
    receipt: Mapping[str, Any] | None,
) -> dict[str, Any] | None:
    try:
        return compare(original, generated, receipt=receipt)
    except Exception as exc:  # comparisons are extras; they must never cost a paid image
        log.warning("comparisons failed for %s: %s", photo.source_id, sort_failure(exc).reason)
        log.debug("comparisons failed for %s", photo.source_id, exc_info=True)
        return None


def _backfill_comparisons(
    photo: Photo,
    row: LookAlike,
    store: ObjectStore,
    db: Database,
    compare: Compare,
) -> None:
    try:
        original = decode_image(store.get(photo.object_key or ""))
        generated = decode_image(store.get(row.object_key or ""))
    except (ObjectNotFound, ImageError):
        return
    comparisons = _safe_compare(compare, original, generated, photo, row.quality)
    with db.session() as session:
        stored = session.get(LookAlike, row.id)
        if stored is not None:
            stored.comparisons = comparisons


def _row_of(session: Any, photo: Photo, generator: str) -> LookAlike:
    """The photo's look-alike row by `generator` (made if missing), counting one more
    attempt."""
    row = session.scalars(
        select(LookAlike).where(LookAlike.photo_id == photo.id, LookAlike.generator == generator)
    ).one_or_none()
    if row is None:
        row = LookAlike(photo_id=photo.id, generator=generator, attempts=0, transient_failures=0)
        session.add(row)
    row.attempts = (row.attempts or 0) + 1
    return row


def _record_success(photo: Photo, generator: str, record: dict[str, Any], db: Database) -> None:
    # The row's generator is the one asked (the unique pair), whatever the receipt says.
    fields = {k: v for k, v in record.items() if k in LOOK_ALIKE_FIELDS and k != "generator"}
    with db.session() as session:
        row = _row_of(session, photo, generator)
        row.status, row.error, row.retry_at, row.transient_failures = (
            Outcome.SUCCEEDED,
            None,
            None,
            0,
        )
        for name, value in fields.items():
            setattr(row, name, value)


def _record_costs(ledger: Ledger, photo_ids: list[int], db: Database) -> None:
    """Each look-alike's cost is what the ledger says its photo's requests with its
    generator cost."""
    spent = ledger.spent_by_look_alike(photo_ids)
    if not spent:
        return
    with db.session() as session:
        rows = session.scalars(
            select(LookAlike).where(LookAlike.photo_id.in_({photo for photo, _ in spent}))
        )
        for row in rows:
            if (row.photo_id, row.generator) in spent:
                row.cost_usd = spent[(row.photo_id, row.generator)]
