"""The ledger of billed requests on both databases: spend by day and by photo, and the
per-photo cap held by the database against many threads racing for the last slot."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from pipeline.lib.billing.budget import spent_today
from pipeline.lib.billing.ledger import Ledger, PaidAttemptCapReached
from pipeline.lib.core import clock
from pipeline.lib.db import BilledRequest, Database, Outcome, Photo

NOW = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'doppel.db'}"
    else:
        url = request.getfixturevalue("postgres_database")["url"]
    database = Database(url)
    database.upgrade()
    yield database
    database.dispose()


def add_photos(db: Database, count: int) -> list[int]:
    with db.session() as session:
        photos = [
            Photo(
                source="samples",
                source_id=f"p{i}",
                day=date(2026, 11, 20),
                rank=i,
                status="stored",
            )
            for i in range(count)
        ]
        session.add_all(photos)
        session.flush()
        return [p.id for p in photos]


def reserve(ledger: Ledger, photo: int, estimate: float = 0.05):  # type: ignore[no-untyped-def]
    return ledger.reserve(photo, generator="openai", endpoint="images.edit",
                          model="gpt-image-2", size="128x128", quality="low",
                          estimated_usd=estimate)  # fmt: skip


def test_spend_counts_billed_unknown_and_in_flight_requests_of_the_utc_day(db: Database) -> None:
    ledger = Ledger(db, max_paid_attempts=5)
    a, b = add_photos(db, 2)
    with clock.pinned(NOW - timedelta(days=1)):
        ledger.complete(reserve(ledger, a, 5.0), "billed", cost_usd=5.0)  # yesterday
    with clock.pinned(NOW.replace(hour=0, minute=0, second=1)):
        ledger.complete(reserve(ledger, a, 0.25), "unknown")  # timed out: the estimate
    with clock.pinned(NOW - timedelta(hours=2)):
        ledger.complete(reserve(ledger, b, 0.3), "billed", cost_usd=0.10, request_id="req_1")
        ledger.complete(reserve(ledger, b, 0.3), "not_billed", http_status=429)
        reserve(ledger, b, 0.05)  # sent, then the process died: pending counts as billed

    assert spent_today(db, NOW) == pytest.approx(0.25 + 0.10 + 0.05)
    assert spent_today(db, NOW + timedelta(days=1)) == 0.0
    assert ledger.spent_by_look_alike([a, b]) == {
        (a, "openai"): 5.25,
        (b, "openai"): pytest.approx(0.15),
    }
    with db.session() as session:
        rows = session.scalars(select(BilledRequest).order_by(BilledRequest.id)).all()
        assert [r.attempt for r in rows] == [1, 2, 1, 2, 3]
        assert [r.outcome for r in rows] == ["billed", "unknown", "billed", "not_billed", "pending"]
        assert rows[3].paid_slot is None  # not billed: its slot was given back


def test_the_cap_counts_paid_attempts_and_retry_lifts_it_on_the_record(db: Database) -> None:
    ledger = Ledger(db, max_paid_attempts=2)
    [photo] = add_photos(db, 1)
    ledger.complete(reserve(ledger, photo), "not_billed", http_status=502)
    ledger.complete(reserve(ledger, photo), "billed", cost_usd=0.01)
    ledger.complete(reserve(ledger, photo), "unknown")
    with pytest.raises(PaidAttemptCapReached, match="doppel retry") as caught:
        reserve(ledger, photo)
    assert caught.value.outcome is Outcome.FAILED
    assert ledger.paid_attempts(photo, "openai") == 2

    assert ledger.lift_cap([photo], generator="openai", reason="doppel retry 2026-11-20") == 1
    assert ledger.paid_attempts(photo, "openai") == 0
    reserve(ledger, photo)
    with db.session() as session:
        lifted = session.scalars(select(BilledRequest).where(BilledRequest.kind == "cap_lifted"))
        assert [r.detail for r in lifted] == ["doppel retry 2026-11-20"]


def test_the_database_itself_refuses_a_slot_beyond_the_cap_or_taken_twice(db: Database) -> None:
    [photo] = add_photos(db, 1)
    row = {
        "photo_id": photo, "kind": "request", "cap_round": 1, "paid_cap": 2,
        "generator": "openai", "attempt": 1, "estimated_usd": 0.0, "outcome": "pending",
    }  # fmt: skip
    with db.session() as session:
        session.add(BilledRequest(paid_slot=1, **row))
    for slot in (1, 3):  # taken, then beyond the cap
        with pytest.raises(IntegrityError), db.session() as session:
            session.add(BilledRequest(paid_slot=slot, **row))
            session.flush()


def test_threads_racing_for_one_photo_never_get_more_than_the_cap(db: Database) -> None:
    ledger = Ledger(db, max_paid_attempts=3)
    photos = add_photos(db, 2)
    granted: list[int] = []
    capped: list[int] = []
    start = threading.Barrier(12)

    def work(photo: int) -> None:
        start.wait()
        try:
            entry = reserve(ledger, photo)
        except PaidAttemptCapReached:
            capped.append(photo)
            return
        granted.append(photo)
        ledger.complete(entry, "billed", cost_usd=0.01)

    threads = [threading.Thread(target=work, args=(photos[i % 2],)) for i in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(granted) == sorted(photos * 3)
    assert len(capped) == 6


def test_each_generator_has_its_own_cap_rounds_and_cost_for_a_photo(db: Database) -> None:
    """DOPPEL_GENERATORS: one photo, two paid generators; one at its cap stops only itself,
    lifting one's cap leaves the other's alone, and each look-alike costs its own requests."""
    ledger = Ledger(db, max_paid_attempts=1)
    [photo] = add_photos(db, 1)
    ledger.complete(reserve(ledger, photo, 0.04), "billed", cost_usd=0.04)
    with pytest.raises(PaidAttemptCapReached):
        reserve(ledger, photo)
    other = ledger.reserve(photo, generator="img2img", endpoint="img2img", model=None)
    ledger.complete(other, "billed", cost_usd=0.01)
    assert (ledger.slots_left(photo, "openai"), ledger.slots_left(photo, "img2img")) == (0, 0)

    ledger.lift_cap([photo], generator="img2img", reason="doppel retry")
    assert (ledger.slots_left(photo, "openai"), ledger.slots_left(photo, "img2img")) == (0, 1)
    assert ledger.spent_by_look_alike([photo]) == {(photo, "openai"): 0.04,
                                                   (photo, "img2img"): 0.01}  # fmt: skip
