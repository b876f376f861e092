from datetime import date

import dagster as dg
import pandas as pd

from pipeline.defs.checks import GENERATED_IMAGES_CHECKS, day_check_results
from pipeline.defs.limits import API_STEP_RETRY, IMAGE_GENERATOR_POOL
from pipeline.defs.partitions import DEFAULT_PARTITIONS
from pipeline.defs.resources import DatabaseResource, ImageGeneratorResource, ObjectStoreResource
from pipeline.lib.day.generate import generate_day
from pipeline.lib.day.summaries import generations_markdown
from pipeline.lib.generators import GeneratorUnavailable
from pipeline.lib.measures.comparisons import compare_images


def build_generated_images(
    partitions: dg.PartitionsDefinition = DEFAULT_PARTITIONS,
    step_retry: dg.RetryPolicy | None = API_STEP_RETRY,
) -> dg.AssetsDefinition:
    """The asset over `partitions`; `step_retry=None` gives one attempt per run."""
    return dg.asset(
        name="generated_images",
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
    unsplash_images: pd.DataFrame,
    image_generator: ImageGeneratorResource,
    object_store: ObjectStoreResource,
    database: DatabaseResource,
):
    day = date.fromisoformat(context.partition_key)
    photo_ids = [
        int(row["id"]) for row in unsplash_images.to_dict("records") if row["status"] == "stored"
    ]
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
            metadata={"succeeded": result.count("succeeded"), **spending},
        )
    cost = sum(r["cost_usd"] or 0.0 for r in result.rows)
    yield dg.Output(
        pd.DataFrame(result.rows),
        metadata={
            "generator": generator.name,
            "succeeded": result.count("succeeded"),
            "failed": result.count("failed"),
            "refused": result.count("refused"),
            "generator_calls_this_run": result.generator_calls,
            "reused": result.reused + result.adopted,
            "cost_usd": round(cost, 4),
            **spending,
            "preview": dg.MetadataValue.md(generations_markdown(result.rows)),
        },
    )
    yield from day_check_results(day, unsplash_images, store=store, db=db)


generated_images = build_generated_images()
