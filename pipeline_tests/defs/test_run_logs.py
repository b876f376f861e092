"""DOPPEL_LOG_FORMAT=json reaches Dagster's own console lines: a run's console logger is the
one its run config names (Dagster 1.13 ignores `Definitions(loggers=...)` otherwise), so the
runs of Doppel's jobs name it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import dagster as dg
import pytest

# What Dagster's create_log_manager reads to pick a run's loggers.
from dagster._core.system_config.objects import ResolvedRunConfig

from pipeline.definitions import build_definitions
from pipeline.lib.settings import DoppelSettings


@pytest.fixture(autouse=True)
def instance() -> Iterator[dg.DagsterInstance]:
    # Resolving Definitions needs an open instance (see test_schedules.py).
    with dg.instance_for_test() as instance:
        yield instance


def console_loggers(defs: dg.Definitions, instance: dg.DagsterInstance) -> dict[str, object]:
    """The loggers each kind of run of Doppel's jobs starts with, by how it is started."""
    schedule = defs.resolve_schedule_def("daily_images_schedule")
    context = dg.build_schedule_context(
        instance=instance, scheduled_execution_time=datetime(2026, 11, 28, 1, tzinfo=UTC)
    )
    [scheduled] = schedule.evaluate_tick(context).run_requests or []
    daily = defs.resolve_job_def("daily_images_job")
    gallery = defs.resolve_job_def("gallery_site_job")
    return {
        "scheduled day": ResolvedRunConfig.build(daily, scheduled.run_config).loggers,
        # The gallery sensor's requests, and the launchpad, carry no config of their own.
        "gallery rebuild": ResolvedRunConfig.build(gallery, {}).loggers,
    }


def test_json_log_format_gives_every_run_of_the_jobs_the_json_console_logger(
    local_settings: DoppelSettings, instance: dg.DagsterInstance
) -> None:
    settings = local_settings.model_copy(update={"log_format": "json", "log_level": "warning"})
    defs = build_definitions(settings)
    for job_name in ("daily_images_job", "gallery_site_job"):
        assert defs.resolve_job_def(job_name).loggers["console"] is dg.json_console_logger
    for run, loggers in console_loggers(defs, instance).items():
        assert loggers == {"console": {"config": {"log_level": "WARNING", "name": "dagster"}}}, run


def test_text_log_format_leaves_dagsters_default_console_logger(
    local_settings: DoppelSettings, instance: dg.DagsterInstance
) -> None:
    defs = build_definitions(local_settings)
    assert defs.resolve_job_def("daily_images_job").loggers["console"] is not (
        dg.json_console_logger
    )
    # Nothing named: Dagster's default logger at the instance's level, as before.
    assert all(not loggers for loggers in console_loggers(defs, instance).values())
