"""Asset checks on each day's look-alikes, evaluated in the same run as the day."""

from collections.abc import Iterator
from datetime import date

import dagster as dg
import pandas as pd

from pipeline.lib.core.storage import ObjectStore
from pipeline.lib.day.audit import audit_day
from pipeline.lib.db import Database

GENERATED_IMAGES_CHECKS = [
    dg.AssetCheckSpec(
        "every_photo_accounted_for",
        asset="generated_images",
        description="Every photo of the day has a look-alike or a recorded failure.",
    ),
    dg.AssetCheckSpec(
        "stored_images_decode",
        asset="generated_images",
        description="Every stored original and look-alike of the day exists and decodes.",
    ),
    dg.AssetCheckSpec(
        "no_failed_photos",
        asset="generated_images",
        description="Warns when a photo or its look-alike failed or was refused.",
    ),
]


def day_check_results(
    day: date, photos: pd.DataFrame, *, store: ObjectStore, db: Database
) -> Iterator[dg.AssetCheckResult]:
    source_ids = set(photos["source_id"]) if len(photos) else set()
    audit = audit_day(day, source_ids, db=db, store=store)
    yield dg.AssetCheckResult(
        check_name="every_photo_accounted_for",
        passed=not audit.unaccounted,
        metadata={"photos": audit.photos, "unaccounted": dg.MetadataValue.json(audit.unaccounted)},
    )
    yield dg.AssetCheckResult(
        check_name="stored_images_decode",
        passed=not audit.undecodable,
        metadata={"problems": dg.MetadataValue.json(audit.undecodable)},
    )
    yield dg.AssetCheckResult(
        check_name="no_failed_photos",
        passed=not audit.failures,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"failures": dg.MetadataValue.json(audit.failures)},
    )
