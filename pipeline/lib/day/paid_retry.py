"""`doppel retry DAY [--photo ID]`: a person asks again for photos that failed.

With several generators, each look-alike of the photo that failed is asked for again and
has its own generator's paid cap lifted; those that succeeded are left as they are.

A photo that failed for good (its paid attempts used, too many failures in a row, an input
the generator could not take) is never asked for again by a run, a step retry or the
sensor; `doppel retry` makes it wait for the next run again, with a fresh count of failures
in a row. Lifting the paid cap is a ledger row of its own (who asked is the only thing that
may open a new round). Refused photos are asked again only when named with --photo.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from pipeline.lib.billing.ledger import Ledger
from pipeline.lib.db import Database, LookAlike, Outcome, Photo


class RetryRefused(ValueError):
    """Nothing to lift: the message says why."""


def lift_paid_cap(
    db: Database, day: str, *, photo: str | None, max_paid_attempts: int
) -> list[str]:
    """Lift the cap for the day's failed look-alikes (or the named photo's); returns their
    photos' ids, with the generator where the photo has look-alikes by several."""
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
        by_generator: dict[str, list[int]] = {}
        for record, look_alike in chosen:
            look_alike.status, look_alike.retry_at = Outcome.WAITING, None
            look_alike.transient_failures = 0
            by_generator.setdefault(look_alike.generator, []).append(record.id)
        names = [
            record.source_id
            if len(record.look_alikes) == 1
            else f"{record.source_id} ({look_alike.generator})"
            for record, look_alike in chosen
        ]
    reason = f"doppel retry {day}" + (f" --photo {photo}" if photo else "")
    ledger = Ledger(db, max_paid_attempts=max_paid_attempts)
    for generator, ids in by_generator.items():
        ledger.lift_cap(ids, generator=generator, reason=reason)
    return names
