"""Asset checks on each day's look-alikes, one evaluation per day (partitioned checks),
made in the same run as the day."""

import warnings
from collections.abc import Iterator, Sequence
from datetime import date

import dagster as dg

from pipeline.defs.keys import LOOK_ALIKES_KEY
from pipeline.defs.metadata import metadata
from pipeline.lib.core.storage import ObjectStore
from pipeline.lib.day.audit import audit_day
from pipeline.lib.day.summaries import audit_descriptions, audit_summaries
from pipeline.lib.day.tables import DayTable
from pipeline.lib.db import Database

CHECKS = {
    "every_photo_accounted_for": ("Every photo of the day has a look-alike or a recorded outcome."),
    "stored_images_decode": "Every stored original and look-alike of the day exists and decodes.",
    "no_photo_waiting": (
        "Fails while photos of the day wait for a retry (which, why, and from when); warns "
        "when some failed for good or were refused."
    ),
}


def look_alike_checks(partitions: dg.PartitionsDefinition) -> list[dg.AssetCheckSpec]:
    """The checks, per day: without `partitions_def` the UI shows them with no partition,
    and one bad day turns them red for every day."""
    with warnings.catch_warnings():
        # Partitioned checks are a "preview" in Dagster 1.13; they are what the UI needs.
        warnings.simplefilter("ignore", dg.PreviewWarning)
        return [
            dg.AssetCheckSpec(
                name, asset=LOOK_ALIKES_KEY, description=description, partitions_def=partitions
            )
            for name, description in CHECKS.items()
        ]


def day_check_results(
    day: date,
    photos: DayTable,
    *,
    store: ObjectStore,
    db: Database,
    generators: Sequence[str] = (),
) -> Iterator[dg.AssetCheckResult]:
    audit = audit_day(day, photos, db=db, store=store, generators=generators)
    reports, descriptions = audit_summaries(audit), audit_descriptions(audit)
    results = {
        "every_photo_accounted_for": (not audit.unaccounted, dg.AssetCheckSeverity.ERROR),
        "stored_images_decode": (not audit.undecodable, dg.AssetCheckSeverity.ERROR),
        "no_photo_waiting": (
            not audit.waiting and not audit.failures,
            dg.AssetCheckSeverity.ERROR if audit.waiting else dg.AssetCheckSeverity.WARN,
        ),
    }
    for name, (passed, severity) in results.items():
        yield dg.AssetCheckResult(
            check_name=name,
            passed=passed,
            severity=severity,
            description=descriptions[name],
            metadata=metadata(reports[name]),
        )
