"""The daily partitions every asset, job, schedule and sensor shares."""

import os

import dagster as dg

from pipeline.lib import clock
from pipeline.lib.settings import DEFAULT_START_DATE as DEFAULT_START

# Fixed, not computed from "today": persisted partition subsets are tied to this definition.
# DOPPEL_START_DATE moves it for a new deployment; change it before the first run, not after.
DEFAULT_START_DATE = DEFAULT_START.isoformat()

daily_partitions = dg.DailyPartitionsDefinition(
    start_date=os.environ.get("DOPPEL_START_DATE") or DEFAULT_START_DATE,
    timezone="UTC",
    # 0: the newest partition is the last *complete* UTC day, never the one in progress.
    end_offset=0,
)


def complete_days() -> list[str]:
    """Every partition key up to the last complete UTC day by Doppel's clock, oldest first."""
    return daily_partitions.get_partition_keys(current_time=clock.utc_now())


def last_complete_days(count: int) -> list[str]:
    """Keys of the newest `count` complete days, oldest first."""
    return complete_days()[-count:]
