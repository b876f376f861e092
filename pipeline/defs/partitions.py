"""The daily partitions every asset, job, schedule and sensor shares.

Built from a start date, never from the environment at import: the start is a setting
(`DoppelSettings.start_date`, validated there), and `build_definitions` hands it in.
"""

from datetime import date

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
