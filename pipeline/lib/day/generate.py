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

This module sorts the day's photos and runs them through the worker threads; one photo's
work is `photo_work`, a look-alike's objects `receipts`, its row `records`, and its measures
`comparing`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select
from threadpoolctl import threadpool_limits

from pipeline.lib.billing.ledger import Ledger
from pipeline.lib.core import clock
from pipeline.lib.core.clock import as_utc
from pipeline.lib.core.storage import ObjectStore
from pipeline.lib.day.claims import PhotoClaims
from pipeline.lib.day.comparing import Compare, backfill_comparisons, outdated
from pipeline.lib.day.outcomes import PhotoRetry
from pipeline.lib.day.photo_work import Made, PhotoWork
from pipeline.lib.day.receipts import still_stored, stored_receipt
from pipeline.lib.day.records import record_costs
from pipeline.lib.day.tables import LOOK_ALIKES, DayTable, look_alikes_table, table
from pipeline.lib.db import Database, LookAlike, Outcome, Photo
from pipeline.lib.failures import GeneratorUnavailable
from pipeline.lib.generators import ImageGenerator

log = logging.getLogger(__name__)


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
        if done is not None and done.status == Outcome.SUCCEEDED and still_stored(done, store):
            if compare is not None and outdated(done.comparisons):
                backfill_comparisons(photo, done, store, db, compare)
            result.reused += 1
        elif done is not None and done.status == Outcome.REFUSED:
            result.reused += 1
        elif stored_receipt(day, photo, generator.name, store) is not None:
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
    one = PhotoWork(day, generator, store, db, compare, ledger, retry, claims, receipts)

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
            record_costs(ledger, [photo.id for photo in photos], db)

    result.table = look_alikes_table(db, day, ids, generator=generator.name)
    result.stopped_by_budget = one.stopped_by_budget
    result.elsewhere = len(one.elsewhere)
    return result


def _make_all(
    one: PhotoWork, todo: list[Photo], concurrency: int, result: DayLookAlikes
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


def _due(row: LookAlike) -> bool:
    """A waiting photo's time has come (or it has none)."""
    return (
        row.status != Outcome.WAITING
        or row.retry_at is None
        or (as_utc(row.retry_at) <= clock.utc_now())
    )
