"""What the partitions materialized: the day tables the IO manager wrote, read back as they are.

Each partition of `unsplash_images` and `generated_images` is stored as
`tables/<asset>/<day>.json` (the format lives in `pipeline/lib/day/tables.py`; see
`pipeline/defs/resources/io_managers.py`). The gallery reads only these tables, never the
database, so what it shows is exactly what the assets produced. A day's bytes are hashed
before they are parsed: a day whose digest the site already knows need not be parsed at all.
"""

from __future__ import annotations

import hashlib
import logging
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from pipeline.lib.core.storage import ObjectNotFound, ObjectStore
from pipeline.lib.day.tables import (
    GENERATIONS_ASSET,
    PHOTOS_ASSET,
    TABLES_PREFIX,
    decode_rows,
    table_key,
)

log = logging.getLogger(__name__)

_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass
class DayTables:
    day: str
    photos: list[dict[str, Any]] = field(default_factory=list)
    generations: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class RawDay:
    """A day's two tables as stored (None: not materialized), and a digest of both."""

    day: str
    photos: bytes | None
    generations: bytes | None
    prefix: str = TABLES_PREFIX

    @property
    def digest(self) -> str:
        h = hashlib.sha256()
        for data in (self.photos, self.generations):
            h.update(hashlib.sha256(data).digest() if data is not None else b"-")
        return h.hexdigest()

    def tables(self) -> DayTables:
        tables = DayTables(self.day)
        tables.photos = _rows(self.photos, table_key(PHOTOS_ASSET, self.day, self.prefix),
                              tables.problems)  # fmt: skip
        tables.generations = _rows(
            self.generations, table_key(GENERATIONS_ASSET, self.day, self.prefix), tables.problems
        )
        return tables


def list_days(store: ObjectStore, prefix: str = TABLES_PREFIX) -> list[str]:
    """Days with a photos table or a look-alikes table, oldest first."""
    days: set[str] = set()
    for asset in (PHOTOS_ASSET, GENERATIONS_ASSET):
        base = f"{prefix}/{asset}/"
        for key in store.list(base):
            name = key[len(base) :]
            if name.endswith(".json") and _DAY.match(name[:-5]):
                days.add(name[:-5])
    return sorted(days)


def read_days(store: ObjectStore, prefix: str = TABLES_PREFIX, *, workers: int = 8) -> list[RawDay]:
    """Every day's table bytes, oldest first. Reads run in parallel: on S3 each is one GET."""

    def read(day: str) -> RawDay:
        return RawDay(
            day,
            _get(store, table_key(PHOTOS_ASSET, day, prefix)),
            _get(store, table_key(GENERATIONS_ASSET, day, prefix)),
            prefix,
        )

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(read, list_days(store, prefix)))


def load_days(store: ObjectStore, prefix: str = TABLES_PREFIX) -> list[DayTables]:
    """Every day's tables, parsed, oldest first."""
    return [raw.tables() for raw in read_days(store, prefix)]


def _get(store: ObjectStore, key: str) -> bytes | None:
    try:
        return store.get(key)
    except ObjectNotFound:
        return None


def _rows(data: bytes | None, key: str, problems: list[str]) -> list[dict[str, Any]]:
    if data is None:
        return []
    try:
        return decode_rows(data)
    except ValueError as exc:
        problems.append(f"{key} is not a day table ({exc}); re-materialize that partition")
        log.warning(problems[-1])
        return []
