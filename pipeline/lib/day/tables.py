"""What a day is, as its tables: the one schema of a day's photos and look-alikes.

A day is recorded in the database (`Photo` and `LookAlike` rows, the database of record).
Each partition's *table* is built from those records here and nowhere else
(`photos_table`, `look_alikes_table`): the assets return what these build, the IO manager
only stores it (`encode_table`) and reads it back (`decode_table`), and the gallery reads
it through `decode_table` too. The checks read the records themselves (`photos_of_day`),
with the same definition of the day's photos; `doppel status` and the metrics exporter
count them in the database (`counts.py`).

Every column has one type. A value is coerced to it when a table is read, so an integer
stays an integer after a round trip (a missing seed is None, not NaN, and a seed of 5 is
not 5.0), and a table written by an older version (pandas floats, `inspiration_id`) reads
as the current one.

Where the tables live is the caller's to say (`TableFolders`): the folders are named after
the Dagster assets, which belong to `pipeline/defs`, not to this library.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any, Literal

from pipeline.lib.core.clock import as_utc

if TYPE_CHECKING:
    from sqlalchemy.sql.elements import ColumnElement

    from pipeline.lib.db import Database, LookAlike, Photo

# SQLAlchemy and the models are imported by the functions that query the database: the
# gallery's builder and its render workers read stored tables with this module, nothing more.

TABLES_PREFIX = "tables"

Kind = Literal["int", "float", "str", "bool", "json"]


@dataclass(frozen=True)
class Schema:
    name: str
    columns: tuple[tuple[str, Kind], ...]
    # Older names of columns, read as the current ones.
    renamed: tuple[tuple[str, str], ...] = ()

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.columns)

    def row(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """`values` in this schema: every column, each of its own type (None if missing or
        not of that type); other keys are dropped."""
        values = dict(values)
        for old, new in self.renamed:
            if new not in values and old in values:
                values[new] = values[old]
        return {name: _coerce(values.get(name), kind) for name, kind in self.columns}


PHOTOS = Schema(
    "photos",
    (
        ("id", "int"),
        ("source", "str"),
        ("source_id", "str"),
        ("day", "str"),
        ("rank", "int"),
        ("status", "str"),
        ("used", "bool"),
        ("error", "str"),
        ("title", "str"),
        ("description", "str"),
        ("width", "int"),
        ("height", "int"),
        ("likes", "int"),
        ("published_at", "str"),
        ("photographer_name", "str"),
        ("photographer_url", "str"),
        ("page_url", "str"),
        ("display_url", "str"),
        ("license", "str"),
        ("credit", "json"),
        ("object_key", "str"),
        ("content_type", "str"),
        ("sha256", "str"),
        ("tracking_attempts", "int"),
        ("tracking_error", "str"),
    ),
)

LOOK_ALIKES = Schema(
    "look_alikes",
    (
        ("photo_id", "int"),
        ("source_id", "str"),
        ("status", "str"),
        ("retry_at", "str"),
        ("error", "str"),
        ("attempts", "int"),
        ("generator", "str"),
        ("model", "str"),
        ("strategy", "str"),
        ("prompt", "str"),
        ("seed", "int"),
        ("object_key", "str"),
        ("content_type", "str"),
        ("width", "int"),
        ("height", "int"),
        ("sha256", "str"),
        ("cost_usd", "float"),
        ("latency_s", "float"),
        ("request_id", "str"),
        ("usage", "json"),
        ("quality", "json"),
        ("comparisons", "json"),
    ),
    renamed=(("inspiration_id", "photo_id"),),
)

SCHEMAS = {schema.name: schema for schema in (PHOTOS, LOOK_ALIKES)}

# The columns of a look-alike's record a stored generation fills in (its receipt's fields).
LOOK_ALIKE_FIELDS = tuple(n for n in LOOK_ALIKES.names if n not in ("photo_id", "source_id"))


@dataclass(frozen=True)
class DayTable:
    """One partition's table: typed rows in `schema`, in rank order."""

    schema: Schema
    day: str | None
    rows: tuple[dict[str, Any], ...] = ()

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.rows)

    def column(self, name: str) -> list[Any]:
        return [row[name] for row in self.rows]

    def where(self, **equal: Any) -> list[dict[str, Any]]:
        return [r for r in self.rows if all(r[k] == v for k, v in equal.items())]

    def frame(self) -> Any:
        """The table as a pandas DataFrame with nullable dtypes (Int64, boolean, Float64,
        string), so integers stay integers there too."""
        import pandas as pd

        dtypes = {
            "int": "Int64",
            "float": "Float64",
            "str": "string",
            "bool": "boolean",
            "json": "object",
        }
        frame = pd.DataFrame(list(self.rows), columns=list(self.schema.names))
        return frame.astype({name: dtypes[kind] for name, kind in self.schema.columns})


def table(schema: Schema, day: str | None, rows: Iterable[Mapping[str, Any]]) -> DayTable:
    return DayTable(schema, day, tuple(schema.row(r) for r in rows))


# The writers: a day's tables, from the database of record


def photos_of_day(db: Database, day: date, source: str | None = None) -> list[Photo]:
    """The day's photo records (from `source`, by default the day's own source)."""
    return db.photos_of_day(day, source)


def photos_table(day: date, photos: Sequence[Photo]) -> DayTable:
    """The photos table of `day` from its records (`photos_of_day`)."""
    return table(PHOTOS, day.isoformat(), (_photo_values(p) for p in photos))


def look_alikes_table(
    db: Database, day: date, photo_ids: Iterable[int], *, generator: str | None = None
) -> DayTable:
    """The look-alikes table of `day`: the records of the photos `photo_ids` (of every
    generator, or only of `generator`), in rank order; a photo's look-alikes in the order
    they were first made (its first is the one a day card shows)."""
    from sqlalchemy import select

    from pipeline.lib.db import LookAlike, Photo

    chosen: list[ColumnElement[bool]] = [Photo.id.in_(list(photo_ids))]
    if generator is not None:
        chosen.append(LookAlike.generator == generator)
    with db.session() as session:
        records = session.scalars(
            select(LookAlike)
            .join(LookAlike.photo)
            .where(*chosen)
            .order_by(Photo.rank, Photo.id, LookAlike.id)
        ).all()
        rows = [_look_alike_values(r) for r in records]
    return table(LOOK_ALIKES, day.isoformat(), rows)


def _photo_values(photo: Photo) -> dict[str, Any]:
    values = {name: getattr(photo, name, None) for name in PHOTOS.names}
    values["day"] = photo.day.isoformat()
    values["used"] = photo.used
    if photo.published_at is not None:
        values["published_at"] = photo.published_at.isoformat()
    return values


def _look_alike_values(look_alike: LookAlike) -> dict[str, Any]:
    values = {name: getattr(look_alike, name) for name in LOOK_ALIKE_FIELDS}
    if look_alike.retry_at is not None:
        values["retry_at"] = as_utc(look_alike.retry_at).isoformat()
    return values | {"photo_id": look_alike.photo_id, "source_id": look_alike.photo.source_id}


# The stored form: `<prefix>/<folder>/<day>.json` = {"partition", "table", "rows"}


@dataclass(frozen=True)
class TableFolders:
    """Where a day's two tables are stored: one folder per asset, under `prefix`."""

    photos: str
    look_alikes: str
    prefix: str = TABLES_PREFIX

    def key(self, schema: Schema, day: str | None) -> str:
        folder = self.photos if schema is PHOTOS else self.look_alikes
        return table_key(folder, day, self.prefix)


def table_key(folder: str, partition: str | None, prefix: str = TABLES_PREFIX) -> str:
    return f"{prefix}/{folder}/{partition or 'all'}.json"


def encode_table(table: DayTable) -> bytes:
    body = {"partition": table.day, "table": table.schema.name, "rows": list(table.rows)}
    return json.dumps(body, indent=1).encode()


def decode_table(data: bytes, schema: Schema | None = None) -> DayTable:
    """The stored table in its schema (`schema`, else the one the body names); ValueError
    if the body is not such a table."""
    body = json.loads(data)
    rows = body.get("rows") if isinstance(body, dict) else None
    if not isinstance(rows, list):
        raise ValueError("no list of rows")
    if schema is None:
        schema = SCHEMAS.get(str(body.get("table"))) or _guess_schema(rows)
    partition = body.get("partition")
    day = partition if isinstance(partition, str) else None
    return table(schema, day, (row for row in rows if isinstance(row, dict)))


def _guess_schema(rows: list[Any]) -> Schema:
    """Tables written before they named their schema: look-alikes carry a photo's id."""
    first = next((row for row in rows if isinstance(row, dict)), {})
    return LOOK_ALIKES if {"photo_id", "inspiration_id"} & first.keys() else PHOTOS


def _coerce(value: Any, kind: Kind) -> Any:
    if value is None:
        return None
    if kind == "int":
        if isinstance(value, bool):
            return None
        if isinstance(value, int):
            return value
        if isinstance(value, float) and math.isfinite(value) and value.is_integer():
            return int(value)  # written by pandas from a column with a gap
        return None
    if kind == "float":
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None
        return float(value) if math.isfinite(value) else None
    if kind == "bool":
        return value if isinstance(value, bool) else None
    if kind == "str":
        if isinstance(value, float) and math.isnan(value):
            return None
        return value if isinstance(value, str) else str(value)
    return value if isinstance(value, dict | list) else None
