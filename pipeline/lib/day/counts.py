"""What the days hold, counted in the database: per day (`doppel status`) and in all (the
metrics exporter). Each query returns one row per day, or per generator and status, however
many photos there are; the indexes of migration 0008 hold every column they read
(docs/history.md). A day's photos are counted as its tables define them
(`photo_is_used`, the day's source)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, case, false, func, select
from sqlalchemy.sql.elements import ColumnElement

from pipeline.lib.db import Database, DaySource, LookAlike, Outcome, Photo, photo_is_used


def day_status(db: Database, lineup: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Per day: its photos (used, from the day's source: the gallery's definition too),
    look-alikes succeeded, and failures of either kind (photos not stored; look-alikes of
    its photos not succeeded). With the `lineup` (DOPPEL_GENERATORS), look-alikes waiting
    on a generator outside it are set aside, not failed: nothing will ask for them until
    it is back (`generated_set_aside`)."""
    of_day = and_(DaySource.day == Photo.day, DaySource.source == Photo.source)
    used = photo_is_used()
    waiting = LookAlike.status == Outcome.WAITING
    set_aside = false() if lineup is None else waiting & LookAlike.generator.not_in(lineup)
    with db.session() as session:
        photo_rows = session.execute(
            select(Photo.day, _count_where(used), _count_where(Photo.status != "stored"))
            .join(DaySource, of_day)
            .group_by(Photo.day)
        ).all()
        made_rows = session.execute(
            select(
                Photo.day,
                _count_where(LookAlike.status == Outcome.SUCCEEDED),
                func.count(),
                _count_where(set_aside),
            )
            .select_from(LookAlike)
            .join(LookAlike.photo)
            .join(DaySource, of_day)
            .where(used)
            .group_by(Photo.day)
        ).all()
    photos = {day: (int(n), int(failed)) for day, n, failed in photo_rows if n or failed}
    made = {
        day: (int(n), int(all_) - int(n) - int(aside), int(aside))
        for day, n, all_, aside in made_rows
    }
    return [
        {
            "day": day.isoformat(),
            "photos": photos.get(day, (0, 0))[0],
            "photos_failed": photos.get(day, (0, 0))[1],
            "generated_succeeded": made.get(day, (0, 0, 0))[0],
            "generated_failed": made.get(day, (0, 0, 0))[1],
            "generated_set_aside": made.get(day, (0, 0, 0))[2],
        }
        for day in sorted(photos.keys() | made.keys())
    ]


def _count_where(condition: ColumnElement[bool]) -> Any:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


@dataclass(frozen=True)
class LookAlikeTotal:
    """One generator's look-alikes in one status over every day: how many, their cost, how
    many have a latency and its sum, and how many took at most each latency bound."""

    generator: str
    status: str
    count: int
    cost_usd: float
    timed: int
    latency_s: float
    within: tuple[int, ...]


@dataclass(frozen=True)
class HoldingsTotals:
    """What all the days hold together, every row (a redone day's rows from its older
    source included): photos as (source, status, count), look-alikes as `LookAlikeTotal`s
    counted within `latency_bounds`."""

    photos: tuple[tuple[str, str, int], ...]
    look_alikes: tuple[LookAlikeTotal, ...]
    latency_bounds: tuple[float, ...] = ()


def holdings_totals(db: Database, latency_bounds: Sequence[float] = ()) -> HoldingsTotals:
    """Every photo by source and status, every look-alike by generator and status with its
    cost and latency (counted at most each of `latency_bounds` seconds, for a histogram):
    what the exporter reports at each scrape, summed in the database."""
    bounds = tuple(float(b) for b in latency_bounds)
    g = LookAlike
    within = [_count_where(g.latency_s <= bound) for bound in bounds]
    with db.session() as session:
        photo_rows = session.execute(
            select(Photo.source, Photo.status, func.count()).group_by(Photo.source, Photo.status)
        ).all()
        look_alike_rows = session.execute(
            select(
                g.generator,
                g.status,
                func.count(),
                func.coalesce(func.sum(g.cost_usd), 0),
                func.count(g.latency_s),
                func.coalesce(func.sum(g.latency_s), 0),
                *within,
            ).group_by(g.generator, g.status)
        ).all()
    photos = tuple((source, status, int(n)) for source, status, n in photo_rows)
    look_alikes = tuple(
        LookAlikeTotal(
            generator,
            status,
            int(n),
            float(cost or 0),
            int(timed),
            float(latency or 0),
            tuple(int(k or 0) for k in at_most),
        )
        for generator, status, n, cost, timed, latency, *at_most in look_alike_rows
    )
    return HoldingsTotals(photos, look_alikes, bounds)
