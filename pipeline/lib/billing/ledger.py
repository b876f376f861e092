"""The ledger of billed requests, and the cap on paid attempts per photo and generator it
enforces.

A request that may be billed gets its row *before* it is sent (`reserve`) and is completed
after (`complete`). A crash in between leaves the row "pending", which counts as billed:
the server may well have finished it. Spend, the daily budget and each photo's cost are
read from here, so paid answers that turned out broken are counted too.

The cap (DOPPEL_MAX_PAID_ATTEMPTS, default 2) is held by the database, not by Python: a
reservation takes a free slot 1..cap of the photo's current round with its generator (each
generator of DOPPEL_GENERATORS has its own slots and rounds) under a unique constraint, in
the same transaction that looks for the free slot. Two threads or two processes that race
for the last slot cannot both get it; the loser looks again and finds the photo at its cap.
Only the photo's rows are contended, so requests for different photos never wait for one
another.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError

from pipeline.lib.core import clock
from pipeline.lib.db import BilledRequest, Database
from pipeline.lib.failures import Disposition, GenerationError

log = logging.getLogger(__name__)

DEFAULT_MAX_PAID_ATTEMPTS = 2
SPENT = ("pending", "billed", "unknown")  # outcomes that count as money spent
_COST = func.coalesce(BilledRequest.cost_usd, BilledRequest.estimated_usd)

# What the ledger records for a finished request, by disposition. "rejected" is not billed
# either, but marks a permanent stop, which the sensor and the next run's probe look for.
LEDGER_OUTCOME = {
    Disposition.RETRY_NOW: "not_billed",
    Disposition.BILLED: "unknown",
    Disposition.STOP_DAY: "rejected",
    Disposition.BAD_INPUT: "not_billed",
}


class PaidAttemptCapReached(GenerationError):
    """The photo has used all its paid attempts; only `doppel retry` lets it try again."""

    def __init__(self, message: str):
        super().__init__(message, happened="paid_cap_reached")


@dataclass(frozen=True)
class LedgerEntry:
    id: int
    photo_id: int
    estimated_usd: float


class Ledger:
    """Thread-safe: every call is its own short transaction."""

    def __init__(self, db: Database, *, max_paid_attempts: int = DEFAULT_MAX_PAID_ATTEMPTS):
        if max_paid_attempts < 1:
            raise ValueError("max_paid_attempts must be at least 1")
        self.db = db
        self.max_paid_attempts = max_paid_attempts

    def reserve(
        self,
        photo_id: int,
        *,
        generator: str,
        endpoint: str,
        model: str | None,
        size: str | None = None,
        quality: str | None = None,
        estimated_usd: float = 0.0,
    ) -> LedgerEntry:
        """Record a request about to be sent, in a free paid slot, or raise
        `PaidAttemptCapReached`. Call it right before sending, never after."""
        cap = self.max_paid_attempts
        for _ in range(cap + 5):  # each lost race means another slot was taken
            try:
                # Core statements on one connection, not the ORM: this runs twice for every
                # request, on its critical path, in every thread at once.
                with self.db.engine.begin() as connection:
                    # One read of the photo's rows (a handful) gives its round, the slots
                    # taken in it and how many requests it has sent: one round trip, not three.
                    rows = connection.execute(
                        select(
                            BilledRequest.cap_round, BilledRequest.paid_slot, BilledRequest.kind
                        ).where(
                            BilledRequest.photo_id == photo_id, BilledRequest.generator == generator
                        )
                    ).all()
                    cap_round = max((r.cap_round for r in rows), default=1)
                    taken = {
                        r.paid_slot
                        for r in rows
                        if r.cap_round == cap_round and r.paid_slot is not None
                    }
                    free = next((s for s in range(1, cap + 1) if s not in taken), None)
                    if free is None:
                        raise PaidAttemptCapReached(
                            f"stopped after {len(taken)} paid attempts (the cap is {cap}, "
                            "DOPPEL_MAX_PAID_ATTEMPTS); nothing more is sent for this photo "
                            "until `doppel retry DAY --photo ID` lifts the cap"
                        )
                    sent_before = sum(1 for r in rows if r.kind == "request")
                    estimate = round(max(0.0, estimated_usd), 6)
                    row_id = connection.execute(
                        insert(BilledRequest)
                        .values(
                            photo_id=photo_id,
                            kind="request",
                            cap_round=cap_round,
                            paid_slot=free,
                            paid_cap=cap,
                            generator=generator,
                            endpoint=endpoint,
                            model=model,
                            size=size,
                            quality=quality,
                            attempt=sent_before + 1,
                            estimated_usd=estimate,
                            outcome="pending",
                            reserved_at=clock.utc_now(),
                        )
                        .returning(BilledRequest.id)
                    ).scalar_one()
                    return LedgerEntry(int(row_id), photo_id, estimate)
            except IntegrityError:
                continue  # another request took that slot first: look again
        raise PaidAttemptCapReached(f"no paid slot could be taken (the cap is {cap})")

    def complete(
        self,
        entry: LedgerEntry,
        outcome: str,
        *,
        http_status: int | None = None,
        request_id: str | None = None,
        usage: Mapping[str, Any] | None = None,
        cost_usd: float | None = None,
        detail: str | None = None,
    ) -> None:
        """`billed` (a 200), `unknown` (timed out or cut short), `not_billed` or `rejected`
        (an error status; the slot is given back). A billed request without a known cost
        keeps its estimate."""
        values: dict[str, Any] = {
            "outcome": outcome,
            "http_status": http_status,
            "request_id": request_id,
            "usage": dict(usage) if usage else None,
            "detail": (detail or "")[:1000] or None,
            "completed_at": clock.utc_now(),
        }
        if outcome in SPENT:
            values["cost_usd"] = round(cost_usd if cost_usd is not None else entry.estimated_usd, 6)
        else:
            values["cost_usd"] = 0.0
            values["paid_slot"] = None
        with self.db.engine.begin() as connection:
            connection.execute(
                update(BilledRequest).where(BilledRequest.id == entry.id).values(**values)
            )

    # What was spent

    def spent_between(self, start: datetime, end: datetime) -> float:
        with self.db.session() as session:
            total = session.scalar(
                select(func.coalesce(func.sum(_COST), 0.0)).where(
                    BilledRequest.kind == "request",
                    BilledRequest.outcome.in_(SPENT),
                    BilledRequest.reserved_at >= start,
                    BilledRequest.reserved_at < end,
                )
            )
        return float(total or 0.0)

    def spent_by_look_alike(self, photo_ids: Iterable[int]) -> dict[tuple[int, str], float]:
        """What each (photo, generator) cost: the photos' look-alikes, one per generator."""
        ids = list(photo_ids)
        if not ids:
            return {}
        with self.db.session() as session:
            rows = session.execute(
                select(BilledRequest.photo_id, BilledRequest.generator, func.sum(_COST))
                .where(
                    BilledRequest.photo_id.in_(ids),
                    BilledRequest.kind == "request",
                    BilledRequest.outcome.in_(SPENT),
                )
                .group_by(BilledRequest.photo_id, BilledRequest.generator)
            ).all()
        return {
            (int(photo), str(generator)): round(float(cost or 0.0), 6)
            for photo, generator, cost in rows
        }

    def last_stop(self, generator: str) -> datetime | None:
        """When this generator's latest finished request was a permanent rejection (bad key,
        no quota...), else None: the next run then sends one probe before the rest."""
        with self.db.session() as session:
            row = session.execute(
                select(BilledRequest.outcome, BilledRequest.completed_at)
                .where(
                    BilledRequest.generator == generator,
                    BilledRequest.kind == "request",
                    BilledRequest.completed_at.is_not(None),
                )
                .order_by(BilledRequest.completed_at.desc(), BilledRequest.id.desc())
                .limit(1)
            ).first()
        if row is None or row.outcome != "rejected":
            return None
        when = row.completed_at
        return clock.as_utc(when)

    # The cap

    def lift_cap(self, photo_ids: Iterable[int], *, generator: str, reason: str) -> int:
        """Open a new round of `generator`'s paid attempts for each photo (what `doppel
        retry` does); the lifting is itself a ledger row. Returns how many were lifted."""
        lifted = 0
        with self.db.session() as session:
            for photo_id in photo_ids:
                session.add(
                    BilledRequest(
                        photo_id=photo_id,
                        kind="cap_lifted",
                        cap_round=self._round(session, photo_id, generator) + 1,
                        paid_slot=None,
                        paid_cap=self.max_paid_attempts,
                        generator=generator,
                        attempt=0,
                        estimated_usd=0.0,
                        outcome="lifted",
                        cost_usd=0.0,
                        detail=reason[:1000],
                        completed_at=clock.utc_now(),
                    )
                )
                session.flush()
                lifted += 1
        return lifted

    def paid_attempts(self, photo_id: int, generator: str) -> int:
        """Paid slots the photo holds with `generator` in its current round."""
        with self.db.session() as session:
            cap_round = self._round(session, photo_id, generator)
            count = session.scalar(
                select(func.count()).where(
                    BilledRequest.photo_id == photo_id,
                    BilledRequest.generator == generator,
                    BilledRequest.cap_round == cap_round,
                    BilledRequest.paid_slot.is_not(None),
                )
            )
        return int(count or 0)

    def slots_left(self, photo_id: int, generator: str) -> int:
        """Paid attempts the photo may still make with `generator` before `doppel retry`
        lifts its cap."""
        return max(0, self.max_paid_attempts - self.paid_attempts(photo_id, generator))

    @staticmethod
    def _round(session: Any, photo_id: int, generator: str) -> int:
        value = session.scalar(
            select(func.max(BilledRequest.cap_round)).where(
                BilledRequest.photo_id == photo_id, BilledRequest.generator == generator
            )
        )
        return int(value or 1)


def day_bounds(now: datetime) -> tuple[datetime, datetime]:
    """The UTC calendar day around `now`."""
    start = datetime.combine(now.astimezone(UTC).date(), time.min, tzinfo=UTC)
    return start, start + timedelta(days=1)
