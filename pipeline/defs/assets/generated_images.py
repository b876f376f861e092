from datetime import date

import dagster as dg

from pipeline.defs.checks import GENERATED_IMAGES_CHECKS, day_check_results
from pipeline.defs.keys import LOOK_ALIKES_KEY
from pipeline.defs.limits import API_STEP_RETRY, IMAGE_GENERATOR_POOL
from pipeline.defs.metadata import metadata
from pipeline.defs.partitions import DEFAULT_PARTITIONS
from pipeline.defs.resources import (
    DatabaseResource,
    DoppelLogsResource,
    ImageGeneratorResource,
    ObjectStoreResource,
)
from pipeline.lib.day.generate import generate_day
from pipeline.lib.day.summaries import look_alikes_summary
from pipeline.lib.day.tables import DayTable
from pipeline.lib.generators import GeneratorUnavailable


def build_generated_images(
    partitions: dg.PartitionsDefinition = DEFAULT_PARTITIONS,
    step_retry: dg.RetryPolicy | None = API_STEP_RETRY,
) -> dg.AssetsDefinition:
    """The asset over `partitions`; `step_retry=None` gives one attempt per run."""
    return dg.asset(
        name=LOOK_ALIKES_KEY.path[-1],
        partitions_def=partitions,
        group_name="doppel",
        pool=IMAGE_GENERATOR_POOL,
        retry_policy=step_retry,
        kinds={"python", "image"},
        check_specs=GENERATED_IMAGES_CHECKS,
        description=(
            "One look-alike per photo of the day, stored as each one succeeds, with the "
            "comparisons the gallery shows; the day's table goes through the IO manager."
        ),
    )(_generated_images)


def _generated_images(
    context: dg.AssetExecutionContext,
    unsplash_images: DayTable,
    image_generator: ImageGeneratorResource,
    object_store: ObjectStoreResource,
    database: DatabaseResource,
    logs: DoppelLogsResource,  # Doppel's logging in this step's process
):
    # numpy, scipy and the image network load in the run, not in every process that loads
    # the definitions (webserver, daemon, code server).
    from pipeline.lib.measures.comparisons import compare_images

    day = date.fromisoformat(context.partition_key)
    photo_ids = [row["id"] for row in unsplash_images.where(status="stored")]
    generator = image_generator.open()
    store, db = object_store.open(), database.get()
    try:
        result = generate_day(
            day,
            photo_ids,
            generator=generator,
            store=store,
            db=db,
            concurrency=image_generator.concurrency,
            compare=compare_images,
            ledger=getattr(generator, "ledger", None),
        )
    except GeneratorUnavailable as exc:
        # Permanent (bad key, no quota): a step retry would only pay to hear it again.
        raise dg.Failure(
            description=f"{generator.name} cannot take requests: {exc}", allow_retries=False
        ) from exc
    except Exception:
        raise  # a blip (database, store): the step retry may try again at no extra cost
    except BaseException as exc:  # Ctrl-C, SIGTERM, Dagster's own interrupt error
        # Dagster honours the retry policy on interrupts too; a stopped run must stay
        # stopped (its requests in flight are pending in the ledger, counted as billed).
        raise dg.Failure(description="interrupted", allow_retries=False) from exc

    context.log.info(
        f"{day}: {result.generator_calls} generator calls, {result.reused} reused, "
        f"{result.adopted} adopted from the store"
    )
    # Spending against the daily cap (remote generators), shown on success and failure.
    budget = getattr(generator, "budget", None)
    spending = {"stopped_by_budget": result.count("budget")} | (
        budget.metadata() if budget is not None else {}
    )
    if result.retryable_failures:
        # Everything that succeeded is already stored; failing the partition lets the
        # gap-fill sensor come back for the rest, later. Not the step retry: these requests
        # may have been billed, and the ledger's cap is what bounds how often they are paid.
        raise dg.Failure(
            allow_retries=False,
            description=(
                f"{len(result.retryable_failures)} look-alikes of {day} failed and will be "
                "retried: "
                + "; ".join(
                    f"{r['source_id']}: {r['error']}" for r in result.retryable_failures[:5]
                )
            ),
            metadata=metadata({"succeeded": result.count("succeeded"), **spending}),
        )
    summary = look_alikes_summary(result, generator.name) | spending
    yield dg.Output(result.table, metadata=metadata(summary))
    yield from day_check_results(day, unsplash_images, store=store, db=db)


generated_images = build_generated_images()
