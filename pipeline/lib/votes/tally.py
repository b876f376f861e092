"""A day's votes summed per pair: the `human_votes` asset's table, and all days' together.

`day_tally` reads the votes cast on one UTC day (their `created_at`) and gives one row per
pair (photo and generator): how many answers of each mode, how many picked the photo (pair
mode) and how many were right (single mode). Only counts leave the database: no browser id,
no time of a single vote. `people_by_pair` sums every day's table for the findings.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import case, func, select

from pipeline.lib.core.storage import ObjectNotFound, ObjectStore
from pipeline.lib.day.tables import DayTable, Schema, decode_table, table, table_key
from pipeline.lib.db import Database, Vote

HUMAN_VOTES = Schema(
    "human_votes",
    (
        ("photo_id", "int"),
        ("generator", "str"),
        ("pair_votes", "int"),
        ("photo_picked", "int"),
        ("single_votes", "int"),
        ("single_right", "int"),
        ("median_answer_ms", "float"),
    ),
)


def day_tally(db: Database, day: date) -> DayTable:
    """The votes cast on `day` (UTC), one row per pair, in photo id order."""
    start = datetime.combine(day, time(0), tzinfo=UTC)
    pair = Vote.mode == "pair"
    query = (
        select(
            Vote.photo_id.label("photo_id"),
            Vote.generator,
            func.sum(case((pair, 1), else_=0)).label("pair_votes"),
            func.sum(case((pair & Vote.correct, 1), else_=0)).label("photo_picked"),
            func.sum(case((~pair, 1), else_=0)).label("single_votes"),
            func.sum(case((~pair & Vote.correct, 1), else_=0)).label("single_right"),
            func.count().label("votes"),
        )
        .where(Vote.created_at >= start, Vote.created_at < start + timedelta(days=1))
        .group_by(Vote.photo_id, Vote.generator)
        .order_by(Vote.photo_id, Vote.generator)
    )
    with db.engine.connect() as connection:
        rows = [dict(row._mapping) for row in connection.execute(query)]
        medians = _median_answer_ms(connection, start)
    for row in rows:
        row["median_answer_ms"] = medians.get((row["photo_id"], row["generator"]))
    return table(HUMAN_VOTES, day.isoformat(), rows)


def _median_answer_ms(connection, start: datetime) -> dict[tuple[int, str], float]:  # type: ignore[no-untyped-def]
    # Portable (SQLite has no percentile_cont): a day's answer times, sorted per pair.
    query = (
        select(Vote.photo_id, Vote.generator, Vote.answer_ms)
        .where(Vote.created_at >= start, Vote.created_at < start + timedelta(days=1))
        .order_by(Vote.photo_id, Vote.generator, Vote.answer_ms)
    )
    times: dict[tuple[int, str], list[int]] = {}
    for photo_id, generator, ms in connection.execute(query):
        times.setdefault((photo_id, generator), []).append(ms)
    out = {}
    for key, values in times.items():
        mid = len(values) // 2
        out[key] = float(values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2)
    return out


def read_tallies(store: ObjectStore, folder: str) -> list[DayTable]:
    """Every stored `human_votes` table (`tables/<folder>/<day>.json`), oldest first."""
    base = table_key(folder, "x").rsplit("/", 1)[0] + "/"
    out = []
    for key in sorted(store.list(base)):
        if not key.endswith(".json"):
            continue
        try:
            out.append(decode_table(store.get(key), HUMAN_VOTES))
        except (ObjectNotFound, ValueError):  # gone meanwhile, or not a table: no votes from it
            continue
    return out


def people_by_pair(tallies: Iterable[DayTable]) -> dict[tuple[int, str], tuple[int, int]]:
    """(photo id, generator) → (pair-mode answers, of which picked the photo), all days."""
    out: dict[tuple[int, str], tuple[int, int]] = {}
    for tally in tallies:
        for row in tally:
            if row["photo_id"] is None or not row["generator"] or not row["pair_votes"]:
                continue
            key = (row["photo_id"], row["generator"])
            n, hits = out.get(key, (0, 0))
            out[key] = (n + row["pair_votes"], hits + (row["photo_picked"] or 0))
    return out
