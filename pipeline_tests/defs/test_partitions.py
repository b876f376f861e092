from datetime import UTC, datetime

from pipeline.defs.partitions import DEFAULT_START_DATE, daily_partitions


def test_daily_partitions_are_utc_days_from_a_fixed_start() -> None:
    assert daily_partitions.timezone == "UTC"
    keys = daily_partitions.get_partition_keys(
        current_time=datetime(2026, 11, 28, 0, 30, tzinfo=UTC)
    )
    assert keys[0] == DEFAULT_START_DATE
    # The newest partition is the last complete day, never the one in progress.
    assert keys[-1] == "2026-11-27"
    later = daily_partitions.get_partition_keys(
        current_time=datetime(2026, 11, 28, 23, 59, tzinfo=UTC)
    )
    assert later[-1] == "2026-11-27"
