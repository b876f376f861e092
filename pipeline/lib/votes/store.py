"""A checked ballot against the published pairs, then into the `votes` table.

A pair is published when its photo is one of its day's (`photo_is_used`) and the generator's
look-alike of it succeeded: exactly what the gallery and the game show. The service decides
from the pair's two stored digests which image the ballot names, and so whether the answer
was right; the client's word on that is never asked for.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, cast

from sqlalchemy import Table, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError

from pipeline.lib.core import clock
from pipeline.lib.db import Database, LookAlike, Outcome, Photo, Vote, photo_is_used
from pipeline.lib.votes.ballot import Ballot, Refusal

# Published pairs are looked up once a minute at most: a vote is part of one insert, not
# two queries. A pair is never unpublished in the normal course (a `doppel redo` of its day
# makes new look-alikes, whose digests the next lookup finds).
PAIR_CACHE_S = 60.0
PAIR_CACHE_SIZE = 20_000
VOTES = cast(Table, Vote.__table__)  # Core insert: one round trip, no ORM unit of work
VoteKey = tuple[str, int, str]  # browser id, photo id, generator
Written = Literal["stored", "duplicate", "gone"]


@dataclass(frozen=True)
class PublishedPair:
    photo_sha256: str
    lookalike_sha256: str


class VoteStore:
    def __init__(self, db: Database, *, now: Callable[[], datetime] = clock.utc_now):
        self.db = db
        self._now = now
        self._pairs: dict[tuple[int, str], tuple[PublishedPair, datetime]] = {}
        self._lock = threading.Lock()
        self._statement = _insert_new(db.engine.dialect.name)

    def published_pair(self, photo_id: int, generator: str) -> PublishedPair | None:
        """The pair, from the cache or the database (a query: call it in a thread)."""
        key = (photo_id, generator)
        if cached := self.cached_pair(photo_id, generator):
            return cached
        now = self._now()
        query = (
            select(Photo.sha256, LookAlike.sha256)
            .join(LookAlike, LookAlike.photo_id == Photo.id)
            .where(
                Photo.id == photo_id,
                LookAlike.generator == generator,
                LookAlike.status == Outcome.SUCCEEDED.value,
                photo_is_used(),
            )
        )
        with self.db.engine.connect() as connection:
            row = connection.execute(query).first()
        if row is None or not row[0] or not row[1]:
            return None  # not cached: a pair published a moment later is found then
        pair = PublishedPair(row[0], row[1])
        with self._lock:
            if len(self._pairs) >= PAIR_CACHE_SIZE:
                self._pairs.clear()
            self._pairs[key] = (pair, now)
        return pair

    def cached_pair(self, photo_id: int, generator: str) -> PublishedPair | None:
        """The pair if the cache holds it, fresh; None otherwise (no query: the event loop
        asks this first, and goes to a thread for `published_pair` only on a miss)."""
        with self._lock:
            cached = self._pairs.get((photo_id, generator))
        if cached is not None and self._now() - cached[1] < timedelta(seconds=PAIR_CACHE_S):
            return cached[0]
        return None

    def row(self, ballot: Ballot, pair: PublishedPair) -> tuple[dict[str, Any], bool]:
        """The `votes` row of a ballot on its published pair, and whether it was right.
        Raises Refusal when the image named is not one of the pair's."""
        images = {pair.photo_sha256: "photo", pair.lookalike_sha256: "lookalike"}
        which = images.get(ballot.image)
        if which is None:
            raise Refusal(422, "not_in_pair", "that image is not one of the pair's")
        if ballot.mode == "pair":
            picked, shown, correct = which, None, which == "photo"
        else:
            assert ballot.answer is not None
            picked, shown, correct = ballot.answer, which, ballot.answer == which
        row = {
            "inspiration_id": ballot.photo_id,
            "generator": ballot.generator,
            "mode": ballot.mode,
            "picked": picked,
            "shown": shown,
            "confidence": ballot.confidence,
            "correct": correct,
            "answer_ms": ballot.answer_ms,
            "browser_id": ballot.browser_id,
            "created_at": self._now(),
        }
        return row, correct

    def insert(self, rows: list[dict[str, Any]]) -> dict[VoteKey, Written]:
        """Writes `rows` (at most one per browser and pair) in one statement, committed
        before this returns; says for each row's key whether it was stored, was a second
        vote of its browser on the pair (`duplicate`: left out by ON CONFLICT DO NOTHING,
        nothing else in the batch disturbed) or names a photo deleted since it was looked
        up (`gone`)."""
        try:
            stored = self._insert(rows)
        except IntegrityError:
            # Only a foreign key can fail now (the photo deleted under the vote): rows one
            # by one, so the rest of the batch is still stored.
            return {key_of(row): self._insert_one(row) for row in rows}
        return {key_of(row): "stored" if key_of(row) in stored else "duplicate" for row in rows}

    def _insert_one(self, row: dict[str, Any]) -> Written:
        try:
            return "stored" if self._insert([row]) else "duplicate"
        except IntegrityError:
            return "gone"

    def _insert(self, rows: list[dict[str, Any]]) -> set[VoteKey]:
        # Autocommit: one statement is its own transaction, so a batch is one round trip
        # and one commit (no BEGIN, no COMMIT sent apart); it has returned only once
        # PostgreSQL has flushed the commit (synchronous_commit, its default).
        with self.db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            result = connection.execute(self._statement, rows)
            return {(r[0], r[1], r[2]) for r in result}


def key_of(row: dict[str, Any]) -> VoteKey:
    """What one vote of a browser on a pair is known by (the table's unique constraint)."""
    return (row["browser_id"], row["inspiration_id"], row["generator"])


def _insert_new(dialect: str) -> Any:
    """INSERT ... ON CONFLICT DO NOTHING RETURNING the keys stored, in the dialect's words
    (PostgreSQL deployed; SQLite for a local trial)."""
    insert = sqlite_insert if dialect == "sqlite" else postgresql_insert
    columns = VOTES.c
    return (
        insert(VOTES)
        .on_conflict_do_nothing(index_elements=["browser_id", "inspiration_id", "generator"])
        .returning(columns.browser_id, columns.inspiration_id, columns.generator)
    )
