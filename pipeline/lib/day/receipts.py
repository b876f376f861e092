"""A look-alike's objects: its image and, beside it, the JSON receipt of what made it.

The receipt is written after the image and before the database row, so a process that dies
in between leaves a look-alike that the next run adopts (`records.adopt_receipt`) instead of
paying for it again.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import date
from typing import Any

from pipeline.lib.core.images import encode_image
from pipeline.lib.core.storage import ObjectNotFound, ObjectStore
from pipeline.lib.db import LookAlike, Photo
from pipeline.lib.generators import Generation


def look_alike_key(day: date, photo: Photo, suffix: str, generator: str | None) -> str:
    """Where `generator`'s look-alike of `photo` is stored; `generator=None` gives the key
    used before there were several generators per photo (read only, for sidecars)."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", photo.source_id).strip("_")[:80]
    named = f".{generator}" if generator is not None else ""
    return f"generated/{day.isoformat()}/{photo.id}-{safe}{named}{suffix}"


def store_generation(
    day: date, photo: Photo, generator: str, generation: Generation, seed: int, store: ObjectStore
) -> dict[str, Any]:
    """Store the look-alike's image, then its receipt; returns the receipt."""
    data = encode_image(generation.image, "PNG", optimize=True)
    key = look_alike_key(day, photo, ".png", generator)
    store.put(key, data, "image/png")
    record = {
        "generator": generation.generator,
        "model": generation.model,
        "strategy": generation.strategy,
        "prompt": generation.prompt,
        "seed": seed,
        "object_key": key,
        "content_type": "image/png",
        "width": generation.image.width,
        "height": generation.image.height,
        "sha256": hashlib.sha256(data).hexdigest(),
        "cost_usd": generation.cost_usd,
        "latency_s": generation.seconds,
        "request_id": generation.request_id,
        "usage": generation.usage,
        "quality": generation.quality,
    }
    # The sidecar is the receipt: if the process dies before the database row is written,
    # the next run adopts it instead of paying for the image again.
    store.put(
        look_alike_key(day, photo, ".json", generator),
        json.dumps(record, default=str).encode(),
        "application/json",
    )
    return record


def stored_receipt(
    day: date, photo: Photo, generator: str, store: ObjectStore
) -> dict[str, Any] | None:
    """The stored sidecar of `generator`'s look-alike of the photo, if its image is stored
    too: at its own key, or at the key of a version before several generators if it names
    this generator."""
    for key in (
        look_alike_key(day, photo, ".json", generator),
        look_alike_key(day, photo, ".json", None),
    ):
        try:
            record = json.loads(store.get(key))
        except (ObjectNotFound, ValueError):
            continue
        if not isinstance(record, dict) or record.get("generator") != generator:
            continue
        if store.exists(record.get("object_key", "")):
            return record
    return None


def still_stored(row: LookAlike, store: ObjectStore) -> bool:
    key = row.object_key
    return key is not None and key != "" and store.exists(key)
