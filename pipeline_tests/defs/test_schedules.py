"""The daily schedule, evaluated through `evaluate_tick` at fixed times."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import dagster as dg
import pytest

from pipeline.definitions import build_definitions
from pipeline.defs.schedules import DAILY_TRIGGER_TAGS
from pipeline.lib.settings import DoppelSettings

pytestmark = pytest.mark.dates  # `make test-dates` runs these under faketime


@pytest.fixture(autouse=True)
def instance() -> Iterator[dg.DagsterInstance]:
    # Resolving Definitions after a test instance has closed trips over Dagster's global
    # defs-state storage (a dead weak reference), so every test keeps one open throughout.
    with dg.instance_for_test() as instance:
        yield instance


def schedule_for(settings: DoppelSettings) -> dg.ScheduleDefinition:
    """The schedule as the code location has it (resolved against its job)."""
    return build_definitions(settings).resolve_schedule_def("daily_images_schedule")


def tick_at(
    schedule: dg.ScheduleDefinition, when: datetime, instance: dg.DagsterInstance
) -> dg.RunRequest:
    context = dg.build_schedule_context(instance=instance, scheduled_execution_time=when)
    [request] = schedule.evaluate_tick(context).run_requests or []
    return request


@pytest.mark.slow
@pytest.mark.parametrize(
    ("when", "day"),
    [
        (datetime(2026, 11, 28, 1, 30, tzinfo=UTC), "2026-11-27"),
        (datetime(2026, 12, 1, 1, 30, tzinfo=UTC), "2026-11-30"),  # across a month end
        (datetime(2027, 1, 1, 1, 30, tzinfo=UTC), "2026-12-31"),  # and a year end
    ],
)
def test_daily_schedule_tick_requests_the_day_that_just_closed(
    local_settings: DoppelSettings, instance: dg.DagsterInstance, when: datetime, day: str
) -> None:
    settings = local_settings.model_copy(update={"schedule_hour": 1, "schedule_minute": 30})
    request = tick_at(schedule_for(settings), when, instance)
    assert request.partition_key == day
    assert request.tags.items() >= DAILY_TRIGGER_TAGS.items()


def test_daily_schedule_time_comes_from_settings_and_runs_by_default(
    local_settings: DoppelSettings, instance: dg.DagsterInstance
) -> None:
    default = schedule_for(local_settings)
    assert (default.cron_schedule, default.execution_timezone) == ("0 1 * * *", "UTC")
    assert default.default_status == dg.DefaultScheduleStatus.RUNNING
    assert default.job_name == "daily_images_job"

    later = local_settings.model_copy(update={"schedule_hour": 6, "schedule_minute": 45})
    schedule = schedule_for(later)
    assert schedule.cron_schedule == "45 6 * * *"
    assert tick_at(schedule, datetime(2026, 11, 28, 6, 45, tzinfo=UTC), instance).partition_key == (
        "2026-11-27"
    )
