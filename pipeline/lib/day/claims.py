"""Each photo claimed once: a run holds a lease on a photo while it makes its look-alike.

Before a photo is handed to the generator (and so before any billable request for it), its
run takes the photo's row in `photo_claims` (`PhotoClaims.take`). Taking is one statement
the database makes atomic, on SQLite as on PostgreSQL: an INSERT that the primary key lets
only one run win, or an UPDATE of a row whose lease has run out, which only one run can
match. Whoever holds the claim makes the photo and records its outcome; the others leave
it ("made by another run") and read its outcome once the claim is gone.

The lease is renewed by a thread (`lease_s / 3`) for as long as the holder lives, so a
long request keeps its photo; a holder killed by SIGKILL stops renewing, and once its
lease has run out (by the one injectable clock) the next run takes the photo over; at
once if the holder ran on this host and its process is gone (`doppel run` again after a
`kill -9`), as no lease is needed to know that. The
money stays right through that: the dead holder's requests are in the ledger, pending,
which counts them as paid, so the new holder has only the paid attempts the cap leaves.
"""

from __future__ import annotations

import logging
import os
import threading
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from pipeline.lib.core import clock
from pipeline.lib.core.processes import gone_here, here
from pipeline.lib.db import Database, PhotoClaim

log = logging.getLogger(__name__)

DEFAULT_LEASE_S = 60.0


def new_holder() -> str:
    """A name for this holder that logs can point at: host and PID namespace, process, and
    a random tail (two `PhotoClaims` in one process are two holders)."""
    return f"{here()} pid {os.getpid()} {uuid.uuid4().hex[:8]}"


def holder_gone(holder: str) -> bool:
    """The holder's process ran on this host, in this PID namespace, and is gone."""
    parts = holder.split(" ")
    if len(parts) != 4 or parts[1] != "pid" or not parts[2].isdigit():
        return False
    return gone_here(parts[0], int(parts[2]))


@dataclass(frozen=True)
class Holder:
    """Who holds a photo's claim, and until when (for the log)."""

    name: str
    until: datetime


class PhotoClaims:
    """The photos one run holds. Thread-safe: every call is its own short transaction."""

    def __init__(self, db: Database, *, lease_s: float = DEFAULT_LEASE_S, holder: str = ""):
        if lease_s <= 0:
            raise ValueError("the claim lease must be positive")
        self.db, self.lease = db, timedelta(seconds=lease_s)
        self.holder = holder or new_holder()
        self._held: set[int] = set()
        self._guard = threading.Lock()
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None

    def take(self, photo_id: int) -> Holder | None:
        """Claim the photo: None when this run now holds it (new, or taken over from a
        holder whose lease ran out), else who holds it."""
        now = clock.utc_now()
        values = {"holder": self.holder, "claimed_at": now, "expires_at": now + self.lease}
        try:
            with self.db.engine.begin() as connection:
                connection.execute(insert(PhotoClaim).values(photo_id=photo_id, **values))
            self._now_held(photo_id)
            return None
        except IntegrityError:
            pass  # claimed before: it may have run out
        with self.db.engine.connect() as connection:
            left = connection.execute(
                select(PhotoClaim.holder, PhotoClaim.expires_at).where(
                    PhotoClaim.photo_id == photo_id
                )
            ).first()
        gone = left is not None and holder_gone(left.holder)
        over = PhotoClaim.expires_at <= now
        if gone and left is not None:
            over = or_(over, PhotoClaim.holder == left.holder)
        # A statement of its own (SQLite: a read that turns into a write fails at once when
        # another writer got in between). Only one run can match a row whose lease ran out
        # (or whose dead holder it names): PostgreSQL re-reads the row after a concurrent
        # update, SQLite has one writer.
        with self.db.engine.begin() as connection:
            taken = connection.execute(
                update(PhotoClaim).where(PhotoClaim.photo_id == photo_id, over).values(**values)
            ).rowcount
        if taken:
            if left is not None:
                why = (
                    "its process is gone"
                    if gone
                    else (f"its lease ran out at {clock.as_utc(left.expires_at).isoformat()}")
                )
                log.warning(
                    "photo %s: taking over the claim of %s: %s (the ledger keeps what it sent)",
                    photo_id,
                    left.holder,
                    why,
                )
            self._now_held(photo_id)
            return None
        if left is None:  # released between the two statements: try once more
            return self.take(photo_id)
        return Holder(left.holder, clock.as_utc(left.expires_at))

    def holds(self, photo_id: int) -> bool:
        """Whether this run still holds the photo (a holder that stalled past its lease may
        have lost it to another run)."""
        with self.db.engine.connect() as connection:
            found = connection.scalar(
                select(PhotoClaim.holder).where(PhotoClaim.photo_id == photo_id)
            )
        return found == self.holder

    def release(self, photo_id: int) -> None:
        """Let go of the photo once its outcome is recorded."""
        with self._guard:
            self._held.discard(photo_id)
        with self.db.engine.begin() as connection:
            connection.execute(
                delete(PhotoClaim).where(
                    PhotoClaim.photo_id == photo_id, PhotoClaim.holder == self.holder
                )
            )

    def release_all(self) -> None:
        """Let go of every photo still held and stop renewing (the run ends or stops)."""
        self._stop.set()
        with self._guard:
            held, self._held = self._held, set()
        if held:
            with self.db.engine.begin() as connection:
                connection.execute(
                    delete(PhotoClaim).where(
                        PhotoClaim.photo_id.in_(sorted(held)), PhotoClaim.holder == self.holder
                    )
                )
        renewer, self._renewer = self._renewer, None
        if renewer is not None and renewer is not threading.current_thread():
            renewer.join(timeout=5)
        self._stop = threading.Event()  # the next claim starts a new renewer

    def claimed(self, photo_ids: Iterable[int]) -> dict[int, Holder]:
        """Which of these photos another holder claims now, lease not run out."""
        ids = sorted(set(photo_ids))
        if not ids:
            return {}
        now = clock.utc_now()
        with self.db.engine.connect() as connection:
            rows = connection.execute(
                select(PhotoClaim.photo_id, PhotoClaim.holder, PhotoClaim.expires_at).where(
                    PhotoClaim.photo_id.in_(ids), PhotoClaim.holder != self.holder
                )
            ).all()
        return {
            int(photo): Holder(holder, clock.as_utc(until))
            for photo, holder, until in rows
            if clock.as_utc(until) > now and not holder_gone(holder)
        }

    def wait_until_free(self, photo_ids: Iterable[int]) -> None:
        """Until no other holder claims these photos: each is done with, or its holder died
        and its lease ran out. A live holder renews its lease, so this waits as long as that
        run works on them (run monitoring bounds a run that never ends)."""
        ids = list(photo_ids)
        poll_s = min(1.0, self.lease.total_seconds() / 10)
        pause = threading.Event()
        while self.claimed(ids):
            pause.wait(poll_s)  # short: Ctrl-C and SIGTERM are handled between waits

    def renew(self) -> None:
        """Push the lease of every photo held one lease from now."""
        with self._guard:
            held = sorted(self._held)
        if not held:
            return
        with self.db.engine.begin() as connection:
            connection.execute(
                update(PhotoClaim)
                .where(PhotoClaim.photo_id.in_(held), PhotoClaim.holder == self.holder)
                .values(expires_at=clock.utc_now() + self.lease)
            )

    def _now_held(self, photo_id: int) -> None:
        with self._guard:
            self._held.add(photo_id)
            if self._renewer is None:
                self._renewer = threading.Thread(
                    target=self._renew_until,
                    args=(self._stop,),
                    name="photo-claims",
                    daemon=True,
                )
                self._renewer.start()
        return None

    def _renew_until(self, stop: threading.Event) -> None:
        while not stop.wait(self.lease.total_seconds() / 3):
            try:
                self.renew()
            except Exception as exc:  # a blip: the next renewal may pass, well within a lease
                log.warning("could not renew the photo claims of %s: %s", self.holder, exc)
