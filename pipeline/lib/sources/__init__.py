"""Where the day's photos come from: the bundled samples, a local folder, or Unsplash.

A source lists the photos chosen for a day (ranked), fetches each one's bytes, and is told
when a photo is actually used (Unsplash counts that as a download).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Protocol


class SourceUnavailable(Exception):
    """The whole day cannot be collected now (rate limit, outage); try again later."""

    def __init__(self, message: str, *, retry_after_s: float | None = None):
        super().__init__(message)
        self.retry_after_s = retry_after_s


class SourceLimitReached(SourceUnavailable):
    """No further call may be sent now (rate limit, the run's call budget); nothing failed."""


class SourceConfigError(ValueError):
    """The source is set up wrongly (empty folder, missing key, unreadable credits file).
    Retrying cannot help: the run stops at once with this one-line message."""


class PhotoFetchError(Exception):
    """One photo's bytes could not be fetched; the rest of the day carries on."""


class PhotoRefused(PhotoFetchError):
    """The photo's URL breaks the URL policy: recorded as refused and never tried again."""


@dataclass(frozen=True)
class ListedPhoto:
    """One photo as a source lists it for a day (before it is stored and becomes a `Photo`
    row), with everything the credits and gallery need."""

    source: str
    source_id: str
    rank: int
    image_ref: str
    title: str | None = None
    description: str | None = None
    width: int | None = None
    height: int | None = None
    likes: int | None = None
    published_at: datetime | None = None
    photographer_name: str | None = None
    photographer_url: str | None = None
    page_url: str | None = None
    # Where the gallery must show the original from (Unsplash hotlinking); None means the
    # stored copy may be shown.
    display_url: str | None = None
    license: str | None = None
    credit: dict[str, Any] = field(default_factory=dict)


class PhotoSource(Protocol):
    name: str

    def day_photos(self, day: date, count: int) -> list[ListedPhoto]:
        """The day's top `count` photos, best first. Raises SourceUnavailable."""
        ...

    def fetch_image(self, photo: ListedPhoto) -> bytes:
        """The photo's bytes. Raises PhotoFetchError (or ImageError) for this photo only."""
        ...

    def track_use(self, photo: ListedPhoto) -> None:
        """Tell the source the photo is used (once per photo). Raises on failure."""
        ...

    def tracking_calls_left(self) -> int | None:
        """How many `track_use` calls this run may still send (None: no limit)."""
        ...
