"""A day's photos by outcome, in the one line `doppel run` prints for the day."""

from __future__ import annotations

from datetime import UTC, date, datetime

from pipeline.lib.day.outcomes import day_outcomes
from pipeline.lib.db import LookAlike, Photo


def photo(title: str, status: str | None, error: str | None = None, used: bool = True) -> Photo:
    made = LookAlike(status=status, error=error, generator="x") if status else None
    tracked = datetime(2026, 11, 21, tzinfo=UTC) if used else None
    return Photo(
        source="folder",
        source_id=f"2026-11-20/{title}",
        day=date(2026, 11, 20),
        rank=1,
        status="stored",
        title=title,
        download_tracked_at=tracked,
        look_alikes=[made] if made else [],
    )


def test_a_day_names_each_photo_without_a_look_alike_and_why() -> None:
    photos = [photo(f"ok{i}", "succeeded") for i in range(10)] + [
        photo("panorama", "failed", "the image is\n 4000×20 px, 200:1"),
        photo("moon", "refused", "moderation_blocked"),
        *(photo(f"w{i}", "waiting", "HTTP 503") for i in range(4)),
        photo("later", None),
        photo("unused", None, used=False),  # not one of the day's photos
    ]
    found = day_outcomes(photos)
    assert not found.final  # photos wait, one is still to make
    assert found.line() == (
        "10 of 17 look-alikes; 1 refused: moon (moderation_blocked); 1 failed: panorama (the "
        "image is 4000×20 px, 200:1); 4 waiting for a retry: w0 (HTTP 503), w1 (HTTP 503), "
        "w2 (HTTP 503), and 1 more; 1 not made yet: later (its day stopped before it was made)"
    )
    settled = day_outcomes([photo("a", "succeeded"), photo("b", "failed", "x" * 300)])
    assert settled.final and settled.line().endswith("x" * 158 + "…)")


def test_with_several_generators_each_look_alike_of_a_photo_counts_and_is_named() -> None:
    both = photo("cat", "succeeded")
    both.look_alikes.append(LookAlike(status="failed", error="HTTP 400", generator="y"))
    one = photo("dog", "succeeded")  # "y" has not made its look-alike yet
    found = day_outcomes([both, one], ["x", "y"])
    assert found.line() == (
        "2 of 4 look-alikes; 1 failed: cat by y (HTTP 400); "
        "1 not made yet: dog by y (its day stopped before it was made)"
    )
