"""A photo's claim, on SQLite and PostgreSQL: one holder at a time, renewed while it works,
taken over once its lease runs out (by the injectable clock), let go when done."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest

from pipeline.lib.core import clock
from pipeline.lib.day.claims import PhotoClaims
from pipeline.lib.db import Database, Photo

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
