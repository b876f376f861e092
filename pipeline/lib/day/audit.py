"""What a finished day must satisfy: every photo accounted for, every stored image sound."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from pipeline.lib.core.clock import as_utc
from pipeline.lib.core.images import ImageError, decode_image
from pipeline.lib.core.storage import ObjectNotFound, ObjectStore
from pipeline.lib.day.tables import DayTable, photos_of_day
from pipeline.lib.db import Database, Outcome


@dataclass
class DayAudit:
    day: date
    photos: int = 0
    # Photos chosen for the day with neither a look-alike row nor a recorded failure.
    unaccounted: list[str] = field(default_factory=list)
    # Stored objects that are missing or do not decode, as "source_id: key: reason".
    undecodable: list[str] = field(default_factory=list)
    # Photos or look-alikes that failed for good or were refused, with their reasons.
    failures: dict[str, str] = field(default_factory=dict)
    # Look-alikes waiting for a retry: the reason, and from when they are asked again.
    waiting: dict[str, str] = field(default_factory=dict)


def audit_day(
    day: date,
    photos: DayTable,
    *,
    db: Database,
    store: ObjectStore,
    generators: Sequence[str] = (),
) -> DayAudit:
    """Audit the records of the photos of `day` named in its photos table: each wants a
    look-alike by each of `generators` (none named: by those asked, or one). With several
    generators, a look-alike is named "photo by generator"."""
    source_ids = set(photos.column("source_id"))
    audit = DayAudit(day)
    for photo in photos_of_day(db, day):
        if photo.source_id not in source_ids:
            continue
        audit.photos += 1
        if photo.status != "stored":
            if photo.error:
                audit.failures[photo.source_id] = f"photo {photo.status}: {photo.error}"
            else:
                audit.unaccounted.append(photo.source_id)
            continue
        _check_decodes(audit, photo.source_id, photo.object_key, store)
        wanted: list[str | None] = list(generators)
        wanted = wanted or [g.generator for g in photo.look_alikes] or [None]
        for generator in wanted:
            name = photo.source_id if len(wanted) == 1 else f"{photo.source_id} by {generator}"
            generation = photo.look_alike_by(generator) if generator is not None else None
            if generation is None:
                audit.unaccounted.append(name)
            elif generation.status == Outcome.WAITING:
                audit.waiting[name] = f"{generation.error} ({_when(generation.retry_at)})"
            elif generation.status != Outcome.SUCCEEDED:
                audit.failures[name] = f"look-alike {generation.status}: {generation.error}"
            else:
                _check_decodes(audit, name, generation.object_key, store)
    return audit


def _check_decodes(audit: DayAudit, source_id: str, key: str | None, store: ObjectStore) -> None:
    try:
        decode_image(store.get(key or ""))
    except ObjectNotFound:
        audit.undecodable.append(f"{source_id}: {key}: missing")
    except ImageError as exc:
        audit.undecodable.append(f"{source_id}: {key}: {exc}")


def _when(retry_at: datetime | None) -> str:
    if retry_at is None:
        return "asked again by the next run"
    return f"asked again from {as_utc(retry_at):%Y-%m-%d %H:%M} UTC"
