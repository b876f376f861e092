"""What the partitions materialized: the day tables the IO manager wrote, read back.

Each partition's photos and look-alikes are stored as `tables/<asset>/<day>.json`; the
schema and format live in `pipeline/lib/day/tables.py`, and where the tables are (the asset
folders, `TableFolders`) is the caller's to say. The gallery reads only these tables, never the
database, so what it shows is exactly what the assets produced. A day's bytes are hashed
before they are parsed: a day whose digest the site already knows need not be parsed at all.
"""

from __future__ import annotations

import hashlib
import logging
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from pipeline.lib.core.storage import ObjectNotFound, ObjectStore
from pipeline.lib.day.tables import LOOK_ALIKES, PHOTOS, Schema, TableFolders, decode_table

log = logging.getLogger(__name__)

_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass
class DayTables:
    day: str
    photos: list[dict[str, Any]] = field(default_factory=list)
    look_alikes: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class RawDay:
    """A day's two tables as stored (None: not materialized), and a digest of both."""

    day: str
    photos: bytes | None
    look_alikes: bytes | None
    folders: TableFolders

    @property
    def digest(self) -> str:
        h = hashlib.sha256()
        for data in (self.photos, self.look_alikes):
            h.update(hashlib.sha256(data).digest() if data is not None else b"-")
        return h.hexdigest()

    def tables(self) -> DayTables:
        tables = DayTables(self.day)
        tables.photos = self._rows(self.photos, PHOTOS, tables.problems)
        tables.look_alikes = self._rows(self.look_alikes, LOOK_ALIKES, tables.problems)
        return tables

    def _rows(
        self, data: bytes | None, schema: Schema, problems: list[str]
    ) -> list[dict[str, Any]]:
        if data is None:
            return []
        try:
            return list(decode_table(data, schema).rows)
        except ValueError as exc:
            key = self.folders.key(schema, self.day)
            problems.append(f"{key} is not a day table ({exc}); re-materialize that partition")
            log.warning(problems[-1])
            return []


def list_days(store: ObjectStore, folders: TableFolders) -> list[str]:
    """Days with a photos table or a look-alikes table, oldest first."""
    days: set[str] = set()
    for folder in (folders.photos, folders.look_alikes):
        base = f"{folders.prefix}/{folder}/"
        for key in store.list(base):
            name = key[len(base) :]
            if name.endswith(".json") and _DAY.match(name[:-5]):
                days.add(name[:-5])
    return sorted(days)


def day_versions(store: ObjectStore, folders: TableFolders) -> dict[str, str]:
    """Each day with a table, oldest first, and a version of its two tables from the store's
    listing (no table is read): it changes whenever either table is written again."""
    versions: dict[str, list[str]] = {}
    for n, folder in enumerate((folders.photos, folders.look_alikes)):
        base = f"{folders.prefix}/{folder}/"
        for key, version in store.list_versions(base):
            name = key[len(base) :]
            if name.endswith(".json") and _DAY.match(name[:-5]):
                versions.setdefault(name[:-5], ["-", "-"])[n] = version
    return {day: "/".join(versions[day]) for day in sorted(versions)}


def read_day(store: ObjectStore, folders: TableFolders, day: str) -> RawDay:
    return RawDay(
        day,
        _get(store, folders.key(PHOTOS, day)),
        _get(store, folders.key(LOOK_ALIKES, day)),
        folders,
    )


def read_days(store: ObjectStore, folders: TableFolders, *, workers: int = 8) -> list[RawDay]:
    """Every day's table bytes, oldest first. Reads run in parallel: on S3 each is one GET."""

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(partial(read_day, store, folders), list_days(store, folders)))


def load_days(store: ObjectStore, folders: TableFolders) -> list[DayTables]:
    """Every day's tables, parsed, oldest first."""
    return [raw.tables() for raw in read_days(store, folders)]


def _get(store: ObjectStore, key: str) -> bytes | None:
    try:
        return store.get(key)
    except ObjectNotFound:
        return None
