"""The daily partitions every asset, job, schedule and sensor shares.

Built from a start date, never from the environment at import: the start is a setting
(`DoppelSettings.start_date`, validated there), and `build_definitions` hands it in.
"""

from collections.abc import Callable
from datetime import date
from typing import Any

import dagster as dg

from pipeline.lib.core import clock


def daily_partitions(start: date) -> dg.DailyPartitionsDefinition:
    """UTC days from `start`. Persisted partition subsets are tied to the start: move it
    before the first run, and only ever earlier after that."""
    return dg.DailyPartitionsDefinition(
        start_date=start.isoformat(),
        timezone="UTC",
        # 0: the newest partition is the last *complete* UTC day, never the one in progress.
        end_offset=0,
    )


def complete_days(partitions: dg.PartitionsDefinition) -> list[str]:
    """Every partition key up to the last complete UTC day by Doppel's clock, oldest first."""
    return partitions.get_partition_keys(current_time=clock.utc_now())


def last_complete_days(partitions: dg.PartitionsDefinition, count: int) -> list[str]:
    """Keys of the newest `count` complete days, oldest first."""
    return complete_days(partitions)[-count:]


def day_asset(
    compute: Callable[..., Any],
    key: dg.AssetKey,
    partitions: dg.PartitionsDefinition,
    *,
    group: str,
    kinds: set[str],
    description: str,
    **options: Any,
) -> dg.AssetsDefinition:
    """`compute` as the asset `key`, one partition per day of `partitions` (the ones the
    definitions build from the settings); `options` go to `dg.asset` as they are."""
    return dg.asset(
        name=key.path[-1],
        partitions_def=partitions,
        group_name=group,
        kinds=kinds,
        description=description,
        **options,
    )(compute)
