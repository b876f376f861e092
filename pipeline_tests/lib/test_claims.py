"""A photo's claim, on SQLite and PostgreSQL: one holder at a time, renewed while it works,
taken over once its lease runs out (by the injectable clock), let go when done; a run
overtaken on its photo records no failure for it."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import select

from pipeline.lib.core import clock, processes
from pipeline.lib.core.images import encode_image
from pipeline.lib.core.storage import LocalObjectStore
from pipeline.lib.day.claims import PhotoClaims, holder_gone
from pipeline.lib.day.generate import generate_day
from pipeline.lib.db import Database, LookAlike, Outcome, Photo
from pipeline.lib.failures import GenerationError
from pipeline.lib.generators import Generation, LoadedPhoto

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


@pytest.fixture
def photo_id(either_database: Database) -> int:
    with either_database.session() as session:
        photo = Photo(source="folder", source_id="boat", day=date(2026, 11, 20), rank=1)
        session.add(photo)
        session.flush()
        return photo.id


@pytest.fixture
def two(either_database: Database) -> Iterator[tuple[PhotoClaims, PhotoClaims]]:
    """Two runs' claims on one database, the clock pinned (and movable: `moved`)."""
    first = PhotoClaims(either_database, lease_s=60, holder="run A")
    second = PhotoClaims(either_database, lease_s=60, holder="run B")
    try:
        yield first, second
    finally:
        first.release_all()
        second.release_all()


def test_one_holder_at_a_time_and_the_other_is_told_who(
    two: tuple[PhotoClaims, PhotoClaims], photo_id: int
) -> None:
    first, second = two
    with clock.pinned(NOW):
        assert first.take(photo_id) is None  # held
        holder = second.take(photo_id)
        assert holder is not None and holder.name == "run A"
        assert holder.until == NOW + timedelta(seconds=60)
        assert first.holds(photo_id) and not second.holds(photo_id)
        assert second.claimed([photo_id]) == {photo_id: holder}
        assert first.claimed([photo_id]) == {}  # its own claim does not hold it back

        first.release(photo_id)
        assert second.claimed([photo_id]) == {}
        assert second.take(photo_id) is None
        assert second.holds(photo_id) and not first.holds(photo_id)


def test_a_lease_that_ran_out_is_taken_over_once_and_a_renewed_one_is_not(
    two: tuple[PhotoClaims, PhotoClaims], photo_id: int, either_database: Database
) -> None:
    first, second = two
    with clock.pinned(NOW):
        assert first.take(photo_id) is None
    with clock.pinned(NOW + timedelta(seconds=59)):
        first.renew()  # what its thread does while it works
        assert second.take(photo_id) is not None
    with clock.pinned(NOW + timedelta(seconds=59 + 60)):  # it stopped renewing: it died
        assert second.claimed([photo_id]) == {}
        assert second.take(photo_id) is None
        third = PhotoClaims(either_database, lease_s=60, holder="run C")
        taken = third.take(photo_id)  # the new lease holds, from now
        assert taken is not None and taken.name == "run B"
        assert not first.holds(photo_id)
        first.release(photo_id)  # a late holder's release leaves the new holder's claim
        assert second.holds(photo_id)


def test_release_all_lets_go_of_every_photo_held(
    two: tuple[PhotoClaims, PhotoClaims], photo_id: int
) -> None:
    first, second = two
    with clock.pinned(NOW):
        assert first.take(photo_id) is None
        first.release_all()
        assert second.take(photo_id) is None
        assert first.take(photo_id) is not None  # and it can take photos again


def test_a_lease_must_be_positive(either_database: Database) -> None:
    with pytest.raises(ValueError, match="positive"):
        PhotoClaims(either_database, lease_s=0)


def test_a_holder_gone_from_this_host_is_taken_over_at_once_and_others_wait_their_lease(
    either_database: Database, photo_id: int
) -> None:
    dead = subprocess.Popen(["true"])  # a process of this host, now gone (and reaped)
    dead.wait()
    here = processes.here()
    assert holder_gone(f"{here} pid {dead.pid} 0123abcd")
    assert not holder_gone(f"{here} pid {os.getpid()} 0123abcd")  # alive: this process
    assert not holder_gone(f"elsewhere/{here.split('/')[1]} pid {dead.pid} 0123abcd")
    assert not holder_gone("not a holder")

    with clock.pinned(NOW):
        gone = PhotoClaims(either_database, lease_s=60, holder=f"{here} pid {dead.pid} 0123abcd")
        assert gone.take(photo_id) is None
        taker = PhotoClaims(either_database, lease_s=60, holder="run B")
        assert taker.claimed([photo_id]) == {}  # nothing to wait for
        assert taker.take(photo_id) is None  # within its lease
        assert taker.holds(photo_id)
        gone.release_all()  # stops its renewer; the photo stays the taker's
        assert taker.holds(photo_id)
        taker.release_all()


class OvertakenWhileGenerating:
    """A generator whose photo another run makes meanwhile (this run stalled past its
    lease, or the run it took over from was only stalled); then its own request fails."""

    name = "overtaken"

    def __init__(self, db: Database, lose_the_claim: bool, now: list[datetime]):
        self.db, self.lose_the_claim, self.now = db, lose_the_claim, now

    def generate(self, source: LoadedPhoto) -> Generation:
        assert source.photo_id is not None
        if self.lose_the_claim:
            self.now[0] += timedelta(seconds=61)  # no renewal came: the lease ran out
            other = PhotoClaims(self.db, lease_s=60, holder="run B")
            assert other.take(source.photo_id) is None
            other.release_all = lambda: None  # type: ignore[method-assign]
        with self.db.session() as session:  # the other run's look-alike, recorded
            # The same generator's (one look-alike per photo and generator).
            made = {"status": Outcome.SUCCEEDED, "generator": self.name, "object_key": "x.png"}
            session.add(LookAlike(photo_id=source.photo_id, attempts=1, **made))
        raise GenerationError("the server had an error", happened="server_error")


@pytest.mark.parametrize("lose_the_claim", [True, False])
def test_a_run_overtaken_on_a_photo_records_no_failure_for_it(
    either_database: Database, photo_id: int, tmp_path: Path, lose_the_claim: bool
) -> None:
    store = LocalObjectStore(tmp_path / "objects")
    store.put("originals/boat.png", encode_image(Image.new("RGB", (48, 40)), "PNG"), "image/png")
    with either_database.session() as session:
        photo = session.get(Photo, photo_id)
        assert photo is not None
        photo.status, photo.object_key = "stored", "originals/boat.png"
    now = [NOW]
    with clock.pinned(lambda: now[0]):
        result = generate_day(
            date(2026, 11, 20),
            [photo_id],
            store=store,
            db=either_database,
            generator=OvertakenWhileGenerating(either_database, lose_the_claim, now),
        )
    assert result.elsewhere == 1  # said as "made by another run"
    [row] = result.rows
    assert (row["status"], row["generator"], row["error"]) == ("succeeded", "overtaken", None)
    with either_database.session() as session:
        assert session.scalars(select(LookAlike.attempts)).all() == [1]
