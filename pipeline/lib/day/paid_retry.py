"""`doppel retry DAY [--photo ID]`: a person asks again for photos that failed.

A photo that failed for good (its paid attempts used, too many failures in a row, an input
the generator could not take) is never asked for again by a run, a step retry or the
sensor; `doppel retry` makes it wait for the next run again, with a fresh count of failures
in a row. Lifting the paid cap is a ledger row of its own (who asked is the only thing that
may open a new round). Refused photos are asked again only when named with --photo.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from pipeline.lib.db import Database, LookAlike, Outcome, Photo
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
            .where(Photo.day == when, LookAlike.status != Outcome.SUCCEEDED)
            .order_by(Photo.rank)
        ).all()
        chosen = [
            (record, look_alike)
            for record, look_alike in rows
            if (photo is None and look_alike.status != Outcome.REFUSED)
            or photo in (str(record.id), record.source_id)
        ]
        if not chosen:
            which = f"photo {photo!r}" if photo else "photo"
            raise RetryRefused(f"no failed {which} on {day}: nothing to retry")
        for _, look_alike in chosen:
            look_alike.status, look_alike.retry_at = Outcome.WAITING, None
            look_alike.transient_failures = 0
        ids = [record.id for record, _ in chosen]
        names = [record.source_id for record, _ in chosen]
    reason = f"doppel retry {day}" + (f" --photo {photo}" if photo else "")
    Ledger(db, max_paid_attempts=max_paid_attempts).lift_cap(
        ids, generator=generator, reason=reason
    )
    return names
