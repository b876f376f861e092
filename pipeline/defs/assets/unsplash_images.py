from datetime import date
from typing import Any

import dagster as dg
import pandas as pd

from pipeline.defs.limits import API_STEP_RETRY, PHOTO_SOURCE_POOL
from pipeline.defs.partitions import DEFAULT_PARTITIONS
from pipeline.defs.resources import DatabaseResource, ObjectStoreResource, PhotoSourceResource
from pipeline.lib.day.collect import TRACKING_ATTEMPTS, DayCollection, collect_day
from pipeline.lib.day.summaries import photos_markdown
from pipeline.lib.sources import SourceConfigError, SourceUnavailable


def build_unsplash_images(
    partitions: dg.PartitionsDefinition = DEFAULT_PARTITIONS,
    step_retry: dg.RetryPolicy | None = API_STEP_RETRY,
) -> dg.AssetsDefinition:
    """The asset over `partitions`; `step_retry=None` gives one attempt per run."""
    return dg.asset(
        name="unsplash_images",
        partitions_def=partitions,
        group_name="doppel",
        pool=PHOTO_SOURCE_POOL,
        retry_policy=step_retry,
        kinds={"python", "image"},
        description=(
            "The day's most popular photos (top K): originals stored in the object store, one "
            "row each in inspiration_images, the day's table through the IO manager."
        ),
    )(_unsplash_images)


def _unsplash_images(
    context: dg.AssetExecutionContext,
    photo_source: PhotoSourceResource,
    object_store: ObjectStoreResource,
    database: DatabaseResource,
) -> pd.DataFrame:
    day = date.fromisoformat(context.partition_key)
    try:
        source = photo_source.open()
    except SourceConfigError as exc:
        # Set up wrongly: one line, and no step retry (it would fail the same way).
        raise dg.Failure(description=str(exc), allow_retries=False) from None
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
            metadata={"retry_after_s": exc.retry_after_s or 0, **_source_figures(source)},
            # The source says when to come back (an hour for a rate limit); a step retry
            # seconds later would only spend requests. The gap-fill sensor returns later.
            allow_retries=exc.retry_after_s is not None and exc.retry_after_s <= 60,
        ) from exc
    if not result.ok:
        raise dg.Failure(
            description=_not_ok(result),
            metadata={**_day_figures(result), **_source_figures(source)},
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
            metadata={"failures": dg.MetadataValue.json(dict(result.failures))},
        )
    context.add_output_metadata(
        {
            "source": result.kept_source or source.name,
            **_day_figures(result),
            "fetched_this_run": result.fetched,
            "reused_stored_day": result.reused,
            "preview": dg.MetadataValue.md(photos_markdown(result.rows)),
            **_source_figures(source),
        }
    )
    return pd.DataFrame(result.rows)


def _day_figures(result: DayCollection) -> dict[str, Any]:
    return {
        "photos": result.used,
        "photos_failed": len(result.rows) - result.stored,
        "photos_untracked": result.untracked,
        "photos_waiting": result.waiting,
    }


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


unsplash_images = build_unsplash_images()
