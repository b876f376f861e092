from datetime import date
from typing import Any

import dagster as dg

from pipeline.defs.keys import PHOTOS_KEY
from pipeline.defs.limits import API_STEP_RETRY, PHOTO_SOURCE_POOL, permanent_failure
from pipeline.defs.metadata import metadata
from pipeline.defs.partitions import day_asset
from pipeline.defs.resources import (
    DatabaseResource,
    DoppelLogsResource,
    ObjectStoreResource,
    PhotoSourceResource,
)
from pipeline.lib.day.collect import TRACKING_ATTEMPTS, DayCollection, collect_day
from pipeline.lib.day.summaries import photo_counts, photos_summary
from pipeline.lib.day.tables import DayTable
from pipeline.lib.sources import SourceConfigError, SourceUnavailable


def build_unsplash_images(
    partitions: dg.PartitionsDefinition,
    step_retry: dg.RetryPolicy | None = API_STEP_RETRY,
) -> dg.AssetsDefinition:
    """The asset over `partitions`; `step_retry=None` gives one attempt per run."""
    return day_asset(
        _unsplash_images,
        PHOTOS_KEY,
        partitions,
        group="doppel",
        kinds={"python", "image"},
        description=(
            "The day's most popular photos (top K): originals stored in the object store, one "
            "row each in the database (Photo), the day's table through the IO manager."
        ),
        pool=PHOTO_SOURCE_POOL,
        retry_policy=step_retry,
    )


def _unsplash_images(
    context: dg.AssetExecutionContext,
    photo_source: PhotoSourceResource,
    object_store: ObjectStoreResource,
    database: DatabaseResource,
    logs: DoppelLogsResource,  # Doppel's logging in this step's process
) -> dg.Output[DayTable]:
    day = date.fromisoformat(context.partition_key)
    try:
        source = photo_source.open()
    except SourceConfigError as exc:
        # Set up wrongly: one line, and no step retry (it would fail the same way).
        raise permanent_failure(str(exc), setting=True) from None
    try:
        result = collect_day(
            day,
            source=source,
            store=object_store.open(),
            db=database.get(),
            count=photo_source.photos_per_day,
        )
    except SourceUnavailable as exc:
        raise dg.Failure(
            description=f"{source.name} is unavailable for {day}: {exc}",
            metadata=metadata({"retry_after_s": exc.retry_after_s or 0, **_source_figures(source)}),
            # The source says when to come back (an hour for a rate limit); a step retry
            # seconds later would only spend requests. The gap-fill sensor returns later.
            allow_retries=exc.retry_after_s is not None and exc.retry_after_s <= 60,
        ) from exc
    if not result.ok:
        raise dg.Failure(
            description=_not_ok(result),
            metadata=metadata({**photo_counts(result), **_source_figures(source)}),
            allow_retries=False,  # a later run (the gap-fill sensor's) picks up where this left
        )
    if result.rows and result.used == 0:
        raise dg.Failure(
            # The first photo's own reason says what to fix (often the store: all fail alike).
            description=f"none of the {len(result.rows)} photos of {day} could be stored"
            + (
                f"; first: {result.failures[0][0]}: {result.failures[0][1]}"
                if result.failures
                else ""
            ),
            metadata=metadata({"failures": dict(result.failures)}),
        )
    summary = photos_summary(result, source.name) | _source_figures(source)
    return dg.Output(result.table, metadata=metadata(summary))


def _not_ok(result: DayCollection) -> str:
    parts = []
    if result.untracked:
        parts.append(
            f"{result.untracked} stored photo(s) wait for their download tracking (tried once "
            f"per run, at most {TRACKING_ATTEMPTS} times)"
        )
    if result.waiting:
        parts.append(f"{result.waiting} photo(s) wait for a download-tracking call to be left")
    return (
        f"{result.day} is not complete: {result.used} photo(s) used; "
        + "; ".join(parts)
        + ". A later run goes on from here."
    )


def _source_figures(source: object) -> dict[str, Any]:
    """What a source reports about its own run, e.g. Unsplash's `unsplash_ratelimit_remaining`
    (read by the metrics exporter); sources without a report add nothing."""
    report = getattr(source, "run_metadata", None)
    return report() if callable(report) else {}
