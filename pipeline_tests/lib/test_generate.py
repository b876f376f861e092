"""generate_day without Dagster: crashes, receipts, refusals and re-measuring."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from pipeline.lib.core import clock
from pipeline.lib.core.storage import LocalObjectStore
from pipeline.lib.day import generate, photo_work
from pipeline.lib.day.collect import collect_day
from pipeline.lib.day.outcomes import PhotoRetry
from pipeline.lib.db import Database, LookAlike, Outcome
from pipeline.lib.failures import GenerationError
from pipeline.lib.generators import Generation, LoadedPhoto
from pipeline.lib.sources.folder import sample_source
from pipeline_tests.fakes import CALLS, MirrorGenerator

DAY = date(2026, 11, 20)


class SimulatedCrash(BaseException):
    """The process dying: not an Exception, so nothing in the pipeline catches it."""


@pytest.fixture
def day(tmp_path: Path) -> tuple[Database, LocalObjectStore, list[int]]:
    db = Database(f"sqlite:///{tmp_path / 'doppel.db'}")
    db.upgrade()
    store = LocalObjectStore(tmp_path / "objects")
    result = collect_day(DAY, source=sample_source(), store=store, db=db, count=3)
    return db, store, [row["id"] for row in result.rows]


def test_a_crash_after_storing_is_adopted_not_paid_again(
    day: tuple[Database, LocalObjectStore, list[int]], monkeypatch: pytest.MonkeyPatch
) -> None:
    db, store, ids = day
    first = MirrorGenerator(f"m-{uuid.uuid4().hex}")
    real_record = photo_work.record_success

    def crash_before_the_row(*args: object, **kwargs: object) -> None:
        raise SimulatedCrash

    monkeypatch.setattr(photo_work, "record_success", crash_before_the_row)
    with pytest.raises(SimulatedCrash):
        generate.generate_day(DAY, ids, generator=first, store=store, db=db, concurrency=1)
    # The process is gone: whatever was under way in its worker thread has ended too.
    for thread in threading.enumerate():
        if thread.name.startswith("ThreadPoolExecutor"):
            thread.join(timeout=30)
    # Paid for, rows lost; a dying process starts no more (one may have been under way).
    paid = CALLS[first.counter]
    assert 1 <= paid <= 2
    with db.session() as session:
        assert session.scalars(select(LookAlike)).all() == []

    monkeypatch.setattr(photo_work, "record_success", real_record)
    second = MirrorGenerator(f"m-{uuid.uuid4().hex}")
    result = generate.generate_day(DAY, ids, generator=second, store=store, db=db)
    assert result.adopted == paid and CALLS[second.counter] == 3 - paid
    assert result.count(Outcome.SUCCEEDED) == 3


class Refusing:
    name = "refusing"

    def __init__(self) -> None:
        self.calls = 0

    def generate(self, source: LoadedPhoto) -> Generation:
        self.calls += 1
        raise GenerationError("moderation_blocked", happened="refused")


def test_refused_photos_are_not_asked_again(
    day: tuple[Database, LocalObjectStore, list[int]],
) -> None:
    db, store, ids = day
    refusing = Refusing()
    result = generate.generate_day(DAY, ids, generator=refusing, store=store, db=db)
    assert result.count(Outcome.REFUSED) == 3 and result.count(Outcome.WAITING) == 0
    again = generate.generate_day(DAY, ids, generator=refusing, store=store, db=db)
    assert refusing.calls == 3 and again.reused == 3


def test_outdated_comparisons_are_measured_again_for_free(
    day: tuple[Database, LocalObjectStore, list[int]],
) -> None:
    db, store, ids = day

    def old_compare(original: object, generated: object, **_: object) -> dict[str, float]:
        return {"ssim": 0.5}

    def new_compare(original: object, generated: object, **_: object) -> dict[str, object]:
        return {"ssim": 0.5, "original": {"brightness": 0.4}}

    mirror = MirrorGenerator(f"m-{uuid.uuid4().hex}")
    generate.generate_day(DAY, ids, generator=mirror, store=store, db=db, compare=old_compare)
    result = generate.generate_day(
        DAY, ids, generator=mirror, store=store, db=db, compare=new_compare
    )
    assert CALLS[mirror.counter] == 3 and result.reused == 3
    assert all(row["comparisons"]["original"] for row in result.rows)


def test_the_generators_quality_record_reaches_the_comparison(
    day: tuple[Database, LocalObjectStore, list[int]],
) -> None:
    """compare gets the generation's own receipt, fresh and when measured again later, so a
    figure the generator's gate already measured is not measured twice."""
    db, store, ids = day
    seen: list[object] = []

    class Gated(MirrorGenerator):
        def generate(self, source: LoadedPhoto) -> Generation:
            made = super().generate(source)
            made.quality = {"zero_shift": 0.25, "largest_copied_region": 0.125}
            return made

    def compare(original: object, generated: object, *, receipt: object = None) -> dict:
        seen.append(receipt)
        return {"ssim": 0.5}

    gated = Gated(f"m-{uuid.uuid4().hex}")
    generate.generate_day(DAY, ids, generator=gated, store=store, db=db, compare=compare)
    generate.generate_day(DAY, ids, generator=gated, store=store, db=db, compare=compare)
    expected = {"zero_shift": 0.25, "largest_copied_region": 0.125}
    assert len(seen) == 6 and all(r == expected for r in seen)  # 3 fresh, 3 outdated again


NOW = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)


class Raising:
    """Fails every photo with `error` (only the photo named `only`, if given); mirrors the
    rest."""

    name = "raising"

    def __init__(self, error: Exception, only: str | None = None) -> None:
        self.error, self.only = error, only
        self.mirror = MirrorGenerator(f"m-{uuid.uuid4().hex}")
        self.calls: list[str] = []

    def generate(self, source: LoadedPhoto) -> Generation:
        self.calls.append(source.name)
        if self.only in (None, source.name):
            raise self.error
        return self.mirror.generate(source)


def rows_of(db: Database) -> list[LookAlike]:
    with db.session() as session:
        return list(session.scalars(select(LookAlike).order_by(LookAlike.photo_id)))


def run(
    db: Database,
    store: LocalObjectStore,
    ids: list[int],
    generator: object,
    at: datetime = NOW,
    **kwargs: object,
) -> generate.DayLookAlikes:
    with clock.pinned(at):
        return generate.generate_day(
            DAY,
            ids,
            generator=generator,
            store=store,
            db=db,  # type: ignore[arg-type]
            **kwargs,  # type: ignore[arg-type]
        )


def test_a_failure_that_may_pass_waits_backs_off_and_fails_for_good_after_three(
    day: tuple[Database, LocalObjectStore, list[int]],
) -> None:
    db, store, ids = day
    flaky = Raising(GenerationError("HTTP 503: overloaded", happened="server_error"))
    retry = PhotoRetry(timedelta(minutes=30), max_failures=3)
    at, waits = NOW, []
    for n in (1, 2):
        result = run(db, store, ids, flaky, at, retry=retry)
        assert result.count(Outcome.WAITING) == 3
        [row, *_] = rows_of(db)
        assert (row.error, row.transient_failures) == ("HTTP 503: overloaded", n)
        waits.append(clock.as_utc(row.retry_at) - at)  # type: ignore[arg-type]
        # Before its time (a step retry seconds later) a waiting photo is not asked again.
        early = run(db, store, ids, flaky, at + timedelta(minutes=10), retry=retry)
        assert early.not_due == 3 and len(flaky.calls) == 3 * n
        at += waits[-1]
    assert waits == [timedelta(minutes=30), timedelta(minutes=60)]  # doubling

    result = run(db, store, ids, flaky, at, retry=retry)
    assert result.count(Outcome.FAILED) == 3 and len(flaky.calls) == 9
    [row, *_] = rows_of(db)
    assert row.retry_at is None and row.error == (
        f"HTTP 503: overloaded (3 failures in a row; `doppel retry 2026-11-20 --photo "
        f"{row.photo_id}` asks again)"
    )
    run(db, store, ids, flaky, at + timedelta(days=1), retry=retry, waiting_now=True)
    assert len(flaky.calls) == 9  # failed for good: never asked again by a run


def test_a_person_asks_for_waiting_photos_at_once(
    day: tuple[Database, LocalObjectStore, list[int]],
) -> None:
    db, store, ids = day
    timing_out = GenerationError("timed out", happened="timeout_after_send")
    run(db, store, ids, Raising(timing_out))
    mirror = Raising(timing_out, only="no such photo")  # the same generator, answering now
    assert run(db, store, ids, mirror, NOW).not_due == 3  # not yet
    assert run(db, store, ids, mirror, NOW, waiting_now=True).count(Outcome.SUCCEEDED) == 3


def test_a_photo_the_generator_cannot_take_fails_alone_and_for_good(
    day: tuple[Database, LocalObjectStore, list[int]],
) -> None:
    db, store, ids = day
    first = db.photos_of_day(DAY)[0].source_id
    picky = Raising(RuntimeError("image is too small (512x25)\n  traceback..."), only=first)
    result = run(db, store, ids, picky)
    assert (result.count(Outcome.SUCCEEDED), result.count(Outcome.FAILED)) == (2, 1)
    failed = [r for r in rows_of(db) if r.status == Outcome.FAILED]
    assert [r.error for r in failed] == ["RuntimeError: image is too small (512x25) traceback..."]
    again = run(db, store, ids, picky)
    assert len(picky.calls) == 3 and again.reused == 3  # nothing asked again


def test_the_daily_budget_leaves_photos_waiting_for_the_next_day_without_a_failure(
    day: tuple[Database, LocalObjectStore, list[int]],
) -> None:
    db, store, ids = day
    tomorrow = datetime(2026, 11, 22, tzinfo=UTC)
    broke = Raising(
        GenerationError("daily budget reached", happened="over_budget", retry_at=tomorrow)
    )
    result = run(db, store, ids, broke)
    assert result.count(Outcome.WAITING) == 3 and result.stopped_by_budget == 3
    assert {(clock.as_utc(r.retry_at), r.transient_failures) for r in rows_of(db)} == {  # type: ignore[arg-type]
        (tomorrow, 0)
    }


def test_a_store_blip_leaves_the_photo_waiting_and_the_next_run_makes_it(
    day: tuple[Database, LocalObjectStore, list[int]], monkeypatch: pytest.MonkeyPatch
) -> None:
    db, store, ids = day
    real_put = store.put

    def refuse_pngs(key: str, data: bytes, content_type: str | None = None) -> None:
        if key.endswith(".png"):
            raise ConnectionResetError("the store dropped the connection")
        real_put(key, data, content_type)

    monkeypatch.setattr(store, "put", refuse_pngs)
    mirror = MirrorGenerator(f"m-{uuid.uuid4().hex}")
    assert run(db, store, ids, mirror).count(Outcome.WAITING) == 3
    assert {r.error for r in rows_of(db)} == {"the store dropped the connection"}
    monkeypatch.setattr(store, "put", real_put)
    later = NOW + timedelta(hours=1)
    assert run(db, store, ids, mirror, later).count(Outcome.SUCCEEDED) == 3
    assert CALLS[mirror.counter] == 6


def test_a_missing_original_fails_for_good_without_calling_the_generator(
    day: tuple[Database, LocalObjectStore, list[int]],
) -> None:
    db, store, ids = day
    for photo in db.photos_of_day(DAY):
        store.delete(photo.object_key or "")
    mirror = MirrorGenerator(f"m-{uuid.uuid4().hex}")
    assert run(db, store, ids, mirror).count(Outcome.FAILED) == 3
    assert CALLS[mirror.counter] == 0
    assert all(r.error.startswith("the stored photo is unusable") for r in rows_of(db))  # type: ignore[union-attr]


class Square(MirrorGenerator):
    """A remote server's answer: its own size, whatever the photo's."""

    def generate(self, source: LoadedPhoto) -> Generation:
        made = super().generate(source)
        made.image = made.image.resize((128, 128))
        return made


def test_a_look_alike_keeps_the_photos_aspect_ratio(
    day: tuple[Database, LocalObjectStore, list[int]],
) -> None:
    db, store, ids = day
    run(db, store, ids, Square(f"m-{uuid.uuid4().hex}"))
    photos = {p.id: p for p in db.photos_of_day(DAY)}
    for row in rows_of(db):
        photo = photos[row.photo_id]
        assert row.width and row.height and photo.width and photo.height
        assert row.width / row.height == pytest.approx(photo.width / photo.height, rel=0.02)


@pytest.mark.parametrize(
    ("made", "photo", "kept"),
    [
        ((1024, 1024), (4000, 200), (1024, 51)),
        ((1024, 1024), (200, 4000), (51, 1024)),
        ((1024, 64), (4000, 200), (1024, 51)),
        ((1024, 1024), (40000, 32), (40000, 32)),
        ((96, 64), (960, 640), (96, 64)),
    ],
)
def test_the_centre_of_a_look_alike_is_kept_at_the_photos_aspect(
    made: tuple[int, int], photo: tuple[int, int], kept: tuple[int, int]
) -> None:
    from PIL import Image

    assert photo_work.with_aspect_of(Image.new("RGB", made), photo).size == kept
