from datetime import UTC, date, datetime

import pytest

from pipeline.defs.partitions import complete_days, daily_partitions, last_complete_days
from pipeline.lib.core import clock

pytestmark = pytest.mark.dates  # `make test-dates` runs these under faketime


def test_daily_partitions_are_utc_days_from_the_start_they_are_given() -> None:
    partitions = daily_partitions(date(2026, 11, 20))
    assert partitions.timezone == "UTC"
    keys = partitions.get_partition_keys(current_time=datetime(2026, 11, 28, 0, 30, tzinfo=UTC))
    # Exactly the days from the start to the last complete one, never the one in progress.
    assert keys == [f"2026-11-{d}" for d in range(20, 28)]
    later = partitions.get_partition_keys(current_time=datetime(2026, 11, 28, 23, 59, tzinfo=UTC))
    assert later == keys
    # Another start, other days: nothing is read from anywhere but the argument.
    assert daily_partitions(date(2026, 11, 26)).get_partition_keys(
        current_time=datetime(2026, 11, 28, 0, 30, tzinfo=UTC)
    ) == ["2026-11-26", "2026-11-27"]


@pytest.mark.parametrize(
    ("now", "newest"),
    [
        (datetime(2027, 1, 1, 0, 0, 30, tzinfo=UTC), ["2026-12-30", "2026-12-31"]),
        (datetime(2026, 12, 31, 23, 59, 30, tzinfo=UTC), ["2026-12-29", "2026-12-30"]),
        (datetime(2028, 2, 29, 12, 0, tzinfo=UTC), ["2028-02-27", "2028-02-28"]),
        (datetime(2028, 3, 1, 0, 0, tzinfo=UTC), ["2028-02-28", "2028-02-29"]),
    ],
)
def test_last_complete_days_follow_doppels_clock(now: datetime, newest: list[str]) -> None:
    partitions = daily_partitions(date(2026, 11, 1))
    with clock.pinned(now):
        assert last_complete_days(partitions, 2) == newest
        assert complete_days(partitions)[-1] == newest[-1]
