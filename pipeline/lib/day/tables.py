"""The stored form of a partition's table: `tables/<asset>/<day>.json` in the object store,
`{"partition": day, "rows": [...]}`. The IO manager writes it; the gallery reads it."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

TABLES_PREFIX = "tables"
PHOTOS_ASSET = "unsplash_images"
GENERATIONS_ASSET = "generated_images"


def table_key(asset: str, partition: str | None, prefix: str = TABLES_PREFIX) -> str:
    return f"{prefix}/{asset}/{partition or 'all'}.json"


def encode_table(partition: str | None, rows: Sequence[dict[str, Any]]) -> bytes:
    return json.dumps({"partition": partition, "rows": list(rows)}, indent=1).encode()


def decode_rows(data: bytes) -> list[dict[str, Any]]:
    """The table's rows; ValueError if the body is not such a table."""
    body = json.loads(data)
    rows = body.get("rows") if isinstance(body, dict) else None
    if not isinstance(rows, list):
        raise ValueError("no list of rows")
    return [row for row in rows if isinstance(row, dict)]
