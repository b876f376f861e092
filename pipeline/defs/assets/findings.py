"""What Doppel found: each day's image features, the machine judge, the findings table.

    image_features[D]  (daily)  features/<D>.npz, computed once per image
    machine_judge      (all days) every image's verdict: its out-of-fold probability of being
                       the photo from the first run that judged it (kept in judge/verdicts.npz)
    findings           (all days) one row per pair: measures, labels, the judge's verdicts

The two unpartitioned assets hand pandas DataFrames through the IO manager; the gallery
reads the findings table to write findings.html and the judge's verdict on every page.
"""

from datetime import date
from typing import Any

import dagster as dg

from pipeline.defs.keys import (
    DAY_TABLES,
    FEATURES_KEY,
    HUMAN_VOTES_KEY,
    JUDGE_KEY,
    LOOK_ALIKES_KEY,
    table_folder,
)
from pipeline.defs.metadata import metadata
from pipeline.defs.partitions import day_asset
from pipeline.defs.resources import DoppelLogsResource, ObjectStoreResource
from pipeline.lib.day.tables import DayTable


def build_image_features(
    partitions: dg.PartitionsDefinition,
) -> dg.AssetsDefinition:
    return day_asset(
        _image_features,
        FEATURES_KEY,
        partitions,
        group="findings",
        kinds={"python", "numpy"},
        description=(
            "Each image's features for the machine judge (the image network's 1280 pooled "
            "features and three cheap statistics), stored once per day; an image already "
            "measured with the same bytes is not measured again. Backfill old days once."
        ),
        # It stores its own file (features/<day>.npz) and hands nothing on: the judge
        # reads every day's, which no IO manager input of one partition would give it.
        ins={
            "unsplash_images": dg.AssetIn(),
            "generated_images": dg.AssetIn(),
        },
    )


def _image_features(
    context: dg.AssetExecutionContext,
    unsplash_images: DayTable,
    generated_images: DayTable,
    object_store: ObjectStoreResource,
    logs: DoppelLogsResource,
) -> dg.MaterializeResult:
    from pipeline.lib.findings.features import (
        compute_day_features,
        encode_features,
        features_key,
        read_day_features,
    )

    day = date.fromisoformat(context.partition_key).isoformat()
    store = object_store.open()
    previous = read_day_features(store, day)
    held, report = compute_day_features(store, unsplash_images, generated_images, previous)
    store.put(features_key(day), encode_features(held), "application/octet-stream")
    for problem in report.problems:
        context.log.warning(f"{day}: {problem}")
    context.log.info(f"{day}: {report.computed} images measured, {report.reused} reused")
    return dg.MaterializeResult(metadata=metadata({"images": len(held)} | report.summary()))


@dg.asset(
    key=JUDGE_KEY,
    deps=[FEATURES_KEY],
    group_name="findings",
    kinds={"python", "scikitlearn", "pandas"},
    description=(
        "A small detector, photo against look-alike (logistic regression), trained on every "
        "day's pairs and tested on days it did not see (grouped by day): each image's "
        "probability of being the photo, given once when the image is new and kept after "
        "(judge/verdicts.npz), and this run's accuracy per generator with its interval."
    ),
)
def machine_judge(
    context: dg.AssetExecutionContext,
    object_store: ObjectStoreResource,
    logs: DoppelLogsResource,
) -> dg.Output:
    from pipeline.lib.findings.features import gather_features
    from pipeline.lib.findings.judge import judge
    from pipeline.lib.findings.kept import keep, read_kept
    from pipeline.lib.site.data import list_days

    store = object_store.open()
    images, matrix, missing = gather_features(store, list_days(store, DAY_TABLES))
    verdicts = judge(images, matrix, kept=read_kept(store))
    del matrix
    # Stored before the output: a verdict shown by a later step is always a kept one.
    verdicts.images, added = keep(store, verdicts.images, verdicts.keys)
    context.log.info(f"{added} images judged for the first time; the others kept their verdicts")
    summary = verdicts.headline() | {"days_without_features": missing}
    if missing:
        context.log.warning(
            f"{len(missing)} days have no features yet ({missing[0]}…): backfill "
            "image_features for them, then materialize machine_judge again"
        )
    for note in verdicts.notes:
        context.log.info(note)
    return dg.Output(verdicts.images, metadata=metadata(summary))


@dg.asset(
    deps=[LOOK_ALIKES_KEY, HUMAN_VOTES_KEY],
    group_name="findings",
    kinds={"python", "pandas"},
    description=(
        "One row per pair (photo and generator): the measures, shared labels, the judge's "
        "probabilities, how often people picked the photo (every day's human_votes), the "
        "generator and the day; its metadata gives the headline figures."
    ),
)
def findings(
    context: dg.AssetExecutionContext,
    machine_judge: Any,  # a pandas DataFrame (pandas loads in the run, not at import)
    object_store: ObjectStoreResource,
    logs: DoppelLogsResource,
) -> dg.Output:
    from pipeline.lib.findings.summary import headline
    from pipeline.lib.findings.table import findings_frame
    from pipeline.lib.site.data import read_days
    from pipeline.lib.votes.tally import people_by_pair, read_tallies

    store = object_store.open()
    people = people_by_pair(read_tallies(store, table_folder(HUMAN_VOTES_KEY)))
    # One day parsed at a time: 100,000 pairs of parsed rows would not fit beside the frame.
    days = (raw.tables() for raw in read_days(store, DAY_TABLES))
    frame = findings_frame(((d.photos, d.look_alikes) for d in days), machine_judge, people)
    return dg.Output(frame, metadata=metadata(headline(frame)))
