"""generate_day without Dagster: crashes, receipts, refusals and re-measuring."""

from __future__ import annotations

import threading
import uuid
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select

from pipeline.lib.core.storage import LocalObjectStore
from pipeline.lib.day import generate
from pipeline.lib.day.collect import collect_day
from pipeline.lib.db import Database, LookAlike
from pipeline.lib.generators import Generation, GenerationError, LoadedPhoto
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
    real_record = generate._record_success

    def crash_before_the_row(*args: object, **kwargs: object) -> None:
        raise SimulatedCrash

    monkeypatch.setattr(generate, "_record_success", crash_before_the_row)
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

    monkeypatch.setattr(generate, "_record_success", real_record)
    second = MirrorGenerator(f"m-{uuid.uuid4().hex}")
    result = generate.generate_day(DAY, ids, generator=second, store=store, db=db)
    assert result.adopted == paid and CALLS[second.counter] == 3 - paid
    assert result.count("succeeded") == 3


class Refusing:
    name = "refusing"

    def __init__(self) -> None:
        self.calls = 0

    def generate(self, source: LoadedPhoto) -> Generation:
        self.calls += 1
        raise GenerationError("moderation_blocked", kind="refused", retryable=False)


def test_refused_photos_are_not_asked_again(
    day: tuple[Database, LocalObjectStore, list[int]],
) -> None:
    db, store, ids = day
    refusing = Refusing()
    result = generate.generate_day(DAY, ids, generator=refusing, store=store, db=db)
    assert result.count("refused") == 3 and not result.retryable_failures
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
