from __future__ import annotations

from typing import TYPE_CHECKING, Any

import dagster as dg

from pipeline.defs.keys import (
    FEATURES_KEY,
    FINDINGS_KEY,
    GALLERY_KEY,
    HUMAN_VOTES_KEY,
    JUDGE_KEY,
    LOOK_ALIKES_KEY,
    PHOTOS_KEY,
)
from pipeline.lib.settings import DoppelSettings

if TYPE_CHECKING:  # what define_asset_job returns has no public name in dagster 1.13
    from dagster._core.definitions.unresolved_asset_job_definition import (
        UnresolvedAssetJobDefinition,
    )

DAILY_IMAGES_JOB = "daily_images_job"
GALLERY_SITE_JOB = "gallery_site_job"


def run_logs_config(settings: DoppelSettings) -> dict[str, Any]:
    """The run config that makes a run's console logger the one `build_definitions` chose.

    Dagster 1.13 starts a run's loggers from its run config alone: a run whose config names
    no logger gets the default coloured console logger, whatever `Definitions(loggers=...)`
    says. So with DOPPEL_LOG_FORMAT=json every run Doppel starts names `console` (the JSON
    one there), at DOPPEL_LOG_LEVEL; with text nothing is named and Dagster's default stays.
    """
    if settings.log_format != "json":
        return {}
    return {"loggers": {"console": {"config": {"log_level": settings.log_level.upper()}}}}


def build_daily_images_job(run_config: dict[str, Any]) -> UnresolvedAssetJobDefinition:
    # Partitioning is inferred from the selected assets (all daily).
    return dg.define_asset_job(
        DAILY_IMAGES_JOB,
        selection=[PHOTOS_KEY, LOOK_ALIKES_KEY, FEATURES_KEY, HUMAN_VOTES_KEY],
        config=run_config or None,
        description="Collect a day's photos, make their look-alikes, keep their images' "
        "features, sum the day's votes.",
    )


def build_gallery_site_job(run_config: dict[str, Any]) -> UnresolvedAssetJobDefinition:
    # Unpartitioned: one run judges every day's pairs again and rebuilds the gallery from
    # every day's tables (only changes written).
    return dg.define_asset_job(
        GALLERY_SITE_JOB,
        selection=[JUDGE_KEY, FINDINGS_KEY, GALLERY_KEY],
        config=run_config or None,
        description="Judge every pair, sum up the findings, rebuild and publish the gallery.",
    )


# The jobs with Dagster's default logging (their names, and tests that need no settings);
# `build_definitions` builds the ones a code location serves from its settings.
daily_images_job = build_daily_images_job({})
gallery_site_job = build_gallery_site_job({})
