"""Measuring a look-alike against its photo while a day is made: extras that never cost a
paid image (a measure that fails is logged and left out), measured again for look-alikes
stored before the current measures existed."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Protocol

from PIL import Image

from pipeline.lib.core.images import ImageError, decode_image
from pipeline.lib.core.storage import ObjectNotFound, ObjectStore
from pipeline.lib.db import Database, LookAlike, Photo
from pipeline.lib.failures import sort_failure

log = logging.getLogger(__name__)


class Compare(Protocol):
    """Measures a look-alike against its photo; `receipt` is the generator's quality record
    (figures its own gate measured are taken from it, not measured twice)."""

    def __call__(
        self,
        original: Image.Image,
        generated: Image.Image,
        *,
        receipt: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]: ...


def outdated(comparisons: dict[str, Any] | None) -> bool:
    """Missing, or made before the per-image or semantic measures existed: measure again
    (it is free)."""
    return comparisons is None or not {"original", "semantic_similarity"} <= comparisons.keys()


def safe_compare(
    compare: Compare,
    original: Image.Image,
    generated: Image.Image,
    photo: Photo,
    receipt: Mapping[str, Any] | None,
) -> dict[str, Any] | None:
    try:
        return compare(original, generated, receipt=receipt)
    except Exception as exc:  # comparisons are extras; they must never cost a paid image
        log.warning("comparisons failed for %s: %s", photo.source_id, sort_failure(exc).reason)
        log.debug("comparisons failed for %s", photo.source_id, exc_info=True)
        return None


def backfill_comparisons(
    photo: Photo,
    row: LookAlike,
    store: ObjectStore,
    db: Database,
    compare: Compare,
) -> None:
    """Measure a stored look-alike again and record its comparisons."""
    try:
        original = decode_image(store.get(photo.object_key or ""))
        generated = decode_image(store.get(row.object_key or ""))
    except (ObjectNotFound, ImageError):
        return
    comparisons = safe_compare(compare, original, generated, photo, row.quality)
    with db.session() as session:
        stored = session.get(LookAlike, row.id)
        if stored is not None:
            stored.comparisons = comparisons
