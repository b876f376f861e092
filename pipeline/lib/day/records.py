"""A look-alike's row in the database: each attempt counted, a success recorded (made now,
or adopted from a stored receipt), and its cost as the ledger of billed requests says."""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

from sqlalchemy import select

from pipeline.lib.billing.ledger import Ledger
from pipeline.lib.core.storage import ObjectStore
from pipeline.lib.day.receipts import stored_receipt
from pipeline.lib.day.tables import LOOK_ALIKE_FIELDS
from pipeline.lib.db import Database, LookAlike, Outcome, Photo

log = logging.getLogger(__name__)


def row_of(session: Any, photo: Photo, generator: str) -> LookAlike:
    """The photo's look-alike row by `generator` (made if missing), counting one more
    attempt."""
    row = session.scalars(
        select(LookAlike).where(LookAlike.photo_id == photo.id, LookAlike.generator == generator)
    ).one_or_none()
    if row is None:
        row = LookAlike(photo_id=photo.id, generator=generator, attempts=0, transient_failures=0)
        session.add(row)
    row.attempts = (row.attempts or 0) + 1
    return row


def record_success(photo: Photo, generator: str, record: dict[str, Any], db: Database) -> None:
    # The row's generator is the one asked (the unique pair), whatever the receipt says.
    fields = {k: v for k, v in record.items() if k in LOOK_ALIKE_FIELDS and k != "generator"}
    with db.session() as session:
        row = row_of(session, photo, generator)
        row.status, row.error, row.retry_at, row.transient_failures = (
            Outcome.SUCCEEDED,
            None,
            None,
            0,
        )
        for name, value in fields.items():
            setattr(row, name, value)


def adopt_receipt(
    day: date, photo: Photo, generator: str, store: ObjectStore, db: Database
) -> bool:
    """Record a look-alike whose image and receipt are stored (its run died before its row
    was written); whether there was one."""
    record = stored_receipt(day, photo, generator, store)
    if record is None:
        return False
    log.info(
        "%s: adopting stored %s look-alike of %s (no new generation)",
        day,
        generator,
        photo.source_id,
    )
    record_success(photo, generator, record, db)
    return True


def record_costs(ledger: Ledger, photo_ids: list[int], db: Database) -> None:
    """Each look-alike's cost is what the ledger says its photo's requests with its
    generator cost."""
    spent = ledger.spent_by_look_alike(photo_ids)
    if not spent:
        return
    with db.session() as session:
        rows = session.scalars(
            select(LookAlike).where(LookAlike.photo_id.in_({photo for photo, _ in spent}))
        )
        for row in rows:
            if (row.photo_id, row.generator) in spent:
                row.cost_usd = spent[(row.photo_id, row.generator)]
