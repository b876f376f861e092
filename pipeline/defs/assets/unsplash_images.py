from datetime import date
from typing import Any

import dagster as dg
import pandas as pd

from pipeline.defs.limits import API_STEP_RETRY, PHOTO_SOURCE_POOL
from pipeline.defs.partitions import daily_partitions
from pipeline.defs.resources import DatabaseResource, ObjectStoreResource, PhotoSourceResource
from pipeline.lib.collect import collect_day
from pipeline.lib.sources import SourceUnavailable
from pipeline.lib.summaries import photos_markdown


@dg.asset(
    partitions_def=daily_partitions,
    group_name="doppel",
    pool=PHOTO_SOURCE_POOL,
    retry_policy=API_STEP_RETRY,
    kinds={"python", "image"},
    description=(
        "The day's most popular photos (top K): originals stored in the object store, one "
        "row each in inspiration_images, the day's table through the IO manager."
    ),
)
def unsplash_images(
    context: dg.AssetExecutionContext,
    photo_source: PhotoSourceResource,
    object_store: ObjectStoreResource,
    database: DatabaseResource,
) -> pd.DataFrame:
    day = date.fromisoformat(context.partition_key)
    source = photo_source.open()
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
    if result.rows and result.stored == 0:
        raise dg.Failure(
            description=f"none of the {len(result.rows)} photos of {day} could be stored",
            metadata={"failures": dg.MetadataValue.json(dict(result.failures))},
        )
    context.add_output_metadata(
        {
            "source": source.name,
            "photos": result.stored,
            "photos_failed": len(result.rows) - result.stored,
            "fetched_this_run": result.fetched,
            "reused_stored_day": result.reused,
            "preview": dg.MetadataValue.md(photos_markdown(result.rows)),
            **_source_figures(source),
        }
    )
    return pd.DataFrame(result.rows)


def _source_figures(source: object) -> dict[str, Any]:
    """What a source reports about its own run, e.g. Unsplash's `unsplash_ratelimit_remaining`
    (read by the metrics exporter); sources without a report add nothing."""
    report = getattr(source, "run_metadata", None)
    return report() if callable(report) else {}
