"""The software-defined assets: a day's photos, their look-alikes, the gallery."""

import dagster as dg

from pipeline.defs.assets.generated_images import build_generated_images
from pipeline.defs.assets.unsplash_images import build_unsplash_images
from pipeline.defs.limits import API_STEP_RETRY


def daily_assets(
    partitions: dg.PartitionsDefinition,
    step_retry: dg.RetryPolicy | None = API_STEP_RETRY,
) -> list[dg.AssetsDefinition]:
    """`unsplash_images` and `generated_images` over `partitions`, with `step_retry` on both.

    The step retry is chosen when the assets are built: `dg.materialize` and
    `execute_in_process` ignore an executor's retry configuration, so this is the one
    switch that holds for every way a run starts. Production keeps `API_STEP_RETRY`;
    `step_retry=None` is one attempt per run (for tests that count attempts)."""
    return [
        build_unsplash_images(partitions, step_retry),
        build_generated_images(partitions, step_retry),
    ]
