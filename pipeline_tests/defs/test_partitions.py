from datetime import UTC, datetime

import pytest

from pipeline.defs.partitions import (
    DEFAULT_START_DATE,
    complete_days,
    daily_partitions,
    last_complete_days,
)
from pipeline.lib import clock

pytestmark = pytest.mark.dates  # `make test-dates` runs these under faketime


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
    with clock.pinned(now):
        assert last_complete_days(2) == newest
        assert complete_days()[-1] == newest[-1]
