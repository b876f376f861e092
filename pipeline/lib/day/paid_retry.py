"""`doppel retry DAY [--photo ID]`: a person lets failed photos be paid for again.

A photo that used its paid attempts (DOPPEL_MAX_PAID_ATTEMPTS) is never sent again by a
run, a step retry or the sensor. Lifting the cap is a ledger row of its own (who asked is
the only thing that may open a new round), and the photo's row becomes retryable again.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from pipeline.lib.db import Database, LookAlike, Photo
from pipeline.lib.generators.ledger import Ledger


class RetryRefused(ValueError):
    """Nothing to lift: the message says why."""


def lift_paid_cap(
    db: Database, day: str, *, photo: str | None, generator: str, max_paid_attempts: int
) -> list[str]:
    """Lift the cap for the day's failed photos (or the one named); returns their ids."""
    try:
        when = date.fromisoformat(day)
    except ValueError:
        raise RetryRefused(f"{day!r} is not a day: write it as YYYY-MM-DD") from None
    with db.session() as session:
        rows = session.execute(
            select(Photo, LookAlike)
            .join(LookAlike, LookAlike.photo_id == Photo.id)
            .where(Photo.day == when, LookAlike.status != "succeeded")
            .order_by(Photo.rank)
        ).all()
        chosen = [
            (record, look_alike)
            for record, look_alike in rows
            if photo is None or photo in (str(record.id), record.source_id)
        ]
        if not chosen:
            which = f"photo {photo!r}" if photo else "photo"
            raise RetryRefused(f"no failed {which} on {day}: nothing to retry")
        for _, look_alike in chosen:
            look_alike.retryable = True
        ids = [record.id for record, _ in chosen]
        names = [record.source_id for record, _ in chosen]
    reason = f"doppel retry {day}" + (f" --photo {photo}" if photo else "")
    Ledger(db, max_paid_attempts=max_paid_attempts).lift_cap(
        ids, generator=generator, reason=reason
    )
    return names
