from datetime import date

import dagster as dg

from pipeline.defs.checks import day_check_results, look_alike_checks
from pipeline.defs.keys import LOOK_ALIKES_KEY
from pipeline.defs.limits import API_STEP_RETRY, IMAGE_GENERATOR_POOL, permanent_failure
from pipeline.defs.metadata import metadata
from pipeline.defs.partitions import day_asset
from pipeline.defs.resources import (
    DatabaseResource,
    DoppelLogsResource,
    ImageGeneratorResource,
    ObjectStoreResource,
)
from pipeline.lib.day.generate import DayLookAlikes, generate_day
from pipeline.lib.day.summaries import look_alikes_summary
from pipeline.lib.day.tables import DayTable, look_alikes_table
from pipeline.lib.failures import BLIPS, GeneratorUnavailable, sort_failure
from pipeline.lib.generators import ImageGenerator

# A run tagged so asks at once for the day's photos waiting for a retry (`doppel run`: a
# person asked); any other run, a step retry above all, asks only for those whose time came.
WAITING_NOW_TAG = "doppel/waiting_now"


def build_generated_images(
    partitions: dg.PartitionsDefinition,
    step_retry: dg.RetryPolicy | None = API_STEP_RETRY,
) -> dg.AssetsDefinition:
    """The asset over `partitions`; `step_retry=None` gives one attempt per run."""
    return day_asset(
        _generated_images,
        LOOK_ALIKES_KEY,
        partitions,
        group="doppel",
        kinds={"python", "image"},
        description=(
            "One look-alike per photo of the day and generator, stored as each one succeeds, "
            "with the comparisons the gallery shows; the day's table goes through the IO "
            "manager. Materialized whenever the step runs to the end, with each photo's outcome."
        ),
        pool=IMAGE_GENERATOR_POOL,
        retry_policy=step_retry,
        check_specs=look_alike_checks(partitions),
    )


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
    # Every generator opens before any is asked: a setting one cannot start with stops the
    # step before anything is paid for.
    members = [(member, _open(member)) for member in image_generator.members()]
    store, db = object_store.open(), database.get()
    results: list[DayLookAlikes] = []
    unavailable: list[tuple[ImageGenerator, GeneratorUnavailable]] = []
    for member, generator in members:
        try:
            result = generate_day(
                day,
                photo_ids,
                generator=generator,
                store=store,
                db=db,
                concurrency=member.concurrency,
                compare=compare_images,
                ledger=getattr(generator, "ledger", None),
                retry=member.photo_retry(),
                waiting_now=context.run.tags.get(WAITING_NOW_TAG) == "true",
                claims=member.photo_claims(db),
            )
        except GeneratorUnavailable as exc:
            # Permanent for this generator (bad key, no quota); the others still make theirs.
            unavailable.append((generator, exc))
            continue
        except Exception:
            raise  # a blip (database, store): the step retry may try again at no extra cost
        except BaseException as exc:  # Ctrl-C, SIGTERM, Dagster's own interrupt error
            # Dagster honours the retry policy on interrupts too; a stopped run must stay
            # stopped (its requests in flight are pending in the ledger, counted as billed).
            raise dg.Failure(description="interrupted", allow_retries=False) from exc
        results.append(result)
        context.log.info(
            f"{day}: {generator.name}: {result.generator_calls} generator calls, "
            f"{result.reused} reused, {result.adopted} adopted from the store, "
            f"{result.not_due} waiting for their time, {result.elsewhere} made by another run"
        )
    if unavailable:
        # A step retry would only pay to hear it again; what the others made is recorded.
        generator, exc = unavailable[0]
        raise permanent_failure(
            f"{generator.name} cannot take requests: {exc}", setting=exc.setting_to_fix
        ) from exc

    # Spending against the daily cap (remote generators).
    spending: dict[str, object] = {"stopped_by_budget": sum(r.stopped_by_budget for r in results)}
    for _, generator in members:
        budget = getattr(generator, "budget", None)
        spending |= budget.metadata() if budget is not None else {}
    # Photos that failed, alone or waiting, are outcomes, not a failed step: the day is
    # materialized with everything made, and its checks say what is left.
    table = look_alikes_table(db, day, photo_ids)
    summary = look_alikes_summary(results, table.rows) | spending
    yield dg.Output(table, metadata=metadata(summary))
    names = [generator.name for _, generator in members]
    yield from day_check_results(day, unsplash_images, store=store, db=db, generators=names)


def _open(resource: ImageGeneratorResource) -> ImageGenerator:
    """The generator, or the step's one-line failure: a setting it cannot start with is
    never retried; a blip (the database) is."""
    try:
        return resource.open()
    except Exception as exc:
        found = sort_failure(exc)
        if found.happened in BLIPS:
            raise
        raise permanent_failure(
            f"the image generator cannot start: {found.reason}", setting=True
        ) from exc
