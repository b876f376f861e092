"""The daily run: each UTC day is materialized shortly after it closes."""

from __future__ import annotations

from typing import TYPE_CHECKING

import dagster as dg

from pipeline.lib.settings import DoppelSettings

if TYPE_CHECKING:
    from dagster._core.definitions.unresolved_asset_job_definition import (
        UnresolvedAssetJobDefinition,
    )

DAILY_TRIGGER_TAGS = {"doppel/trigger": "daily_images_schedule"}


def build_daily_images_schedule(  # type: ignore[no-untyped-def]
    settings: DoppelSettings, daily_images_job: UnresolvedAssetJobDefinition
):
    """Fires at DOPPEL_SCHEDULE_HOUR:DOPPEL_SCHEDULE_MINUTE UTC and requests the day before
    (the partitions are UTC, so the schedule is too). Running by default: a fresh deployment
    starts making days without anyone switching it on.

    `daily_images_job` is the very job object `Definitions` gets (Dagster refuses two of one
    name), with its run config. Returns Dagster's unresolved schedule for an asset job;
    `Definitions` resolves it."""
    return dg.build_schedule_from_partitioned_job(
        daily_images_job,
        name="daily_images_schedule",
        hour_of_day=settings.schedule_hour,
        minute_of_hour=settings.schedule_minute,
        default_status=dg.DefaultScheduleStatus.RUNNING,
        tags=DAILY_TRIGGER_TAGS,
        description="Collects the day that just closed (UTC) and makes its look-alikes.",
    )
