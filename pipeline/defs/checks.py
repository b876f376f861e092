"""Asset checks on each day's look-alikes, evaluated in the same run as the day."""

from collections.abc import Iterator
from datetime import date

import dagster as dg

from pipeline.defs.keys import LOOK_ALIKES_KEY
from pipeline.defs.metadata import metadata
from pipeline.lib.core.storage import ObjectStore
from pipeline.lib.day.audit import audit_day
from pipeline.lib.day.summaries import audit_summaries
from pipeline.lib.day.tables import DayTable
from pipeline.lib.db import Database

GENERATED_IMAGES_CHECKS = [
    dg.AssetCheckSpec(
        "every_photo_accounted_for",
        asset=LOOK_ALIKES_KEY,
        description="Every photo of the day has a look-alike or a recorded failure.",
    ),
    dg.AssetCheckSpec(
        "stored_images_decode",
        asset=LOOK_ALIKES_KEY,
        description="Every stored original and look-alike of the day exists and decodes.",
    ),
    dg.AssetCheckSpec(
        "no_failed_photos",
        asset=LOOK_ALIKES_KEY,
        description="Warns when a photo or its look-alike failed or was refused.",
    ),
]


def day_check_results(
    day: date, photos: DayTable, *, store: ObjectStore, db: Database
) -> Iterator[dg.AssetCheckResult]:
    audit = audit_day(day, photos, db=db, store=store)
    reports = audit_summaries(audit)
    passed = {
        "every_photo_accounted_for": not audit.unaccounted,
        "stored_images_decode": not audit.undecodable,
        "no_failed_photos": not audit.failures,
    }
    for spec in GENERATED_IMAGES_CHECKS:
        warn = spec.name == "no_failed_photos"
        yield dg.AssetCheckResult(
            check_name=spec.name,
            passed=passed[spec.name],
            severity=dg.AssetCheckSeverity.WARN if warn else dg.AssetCheckSeverity.ERROR,
            metadata=metadata(reports[spec.name]),
        )
