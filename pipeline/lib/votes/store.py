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
from typing import cast

from sqlalchemy import Table, insert, select
from sqlalchemy.exc import IntegrityError

from pipeline.lib.core import clock
from pipeline.lib.db import Database, LookAlike, Outcome, Photo, Vote, photo_is_used
from pipeline.lib.votes.ballot import Ballot, Refusal

# Published pairs are looked up once a minute at most: a vote is one insert, not two
# queries. A pair is never unpublished in the normal course (a `doppel redo` of its day
# makes new look-alikes, whose digests the next lookup finds).
PAIR_CACHE_S = 60.0
PAIR_CACHE_SIZE = 20_000
VOTES = cast(Table, Vote.__table__)  # Core insert: one round trip, no ORM unit of work


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

    def published_pair(self, photo_id: int, generator: str) -> PublishedPair | None:
        key = (photo_id, generator)
        now = self._now()
        with self._lock:
            cached = self._pairs.get(key)
        if cached is not None and now - cached[1] < timedelta(seconds=PAIR_CACHE_S):
            return cached[0]
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

    def record(self, ballot: Ballot) -> bool:
        """Store the vote; returns whether it was right. Raises Refusal (nothing stored)
        for a pair that is not published, an image not of the pair, or a second vote of
        the browser on the pair."""
        pair = self.published_pair(ballot.photo_id, ballot.generator)
        if pair is None:
            raise Refusal(404, "unknown_pair", "no published pair has that photo and generator")
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
        try:
            with self.db.engine.begin() as connection:
                connection.execute(insert(VOTES), [row])
        except IntegrityError:
            # The pair exists (checked above, and a photo is never deleted under a vote), so
            # the one constraint left to break is the browser's one vote per pair.
            raise Refusal(409, "duplicate", "this browser has already answered this pair") from None
        return correct
