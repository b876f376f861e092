"""The one entry point Dagster loads (`dg dev`, `dagster dev`, code server, daemon)."""

import logging
from datetime import timedelta

import dagster as dg

from pipeline.defs.assets import daily_assets
from pipeline.defs.assets.findings import build_image_features, findings, machine_judge
from pipeline.defs.assets.gallery_site import gallery_site
from pipeline.defs.assets.human_votes import build_human_votes
from pipeline.defs.jobs import build_daily_images_job, build_gallery_site_job, run_logs_config
from pipeline.defs.partitions import daily_partitions
from pipeline.defs.resources import build_resources
from pipeline.defs.schedules import build_daily_images_schedule
from pipeline.defs.sensors import build_gap_fill_sensor, gallery_refresh_sensor
from pipeline.lib.core import clock
from pipeline.lib.db import schema_problem_at
from pipeline.lib.orchestration.instance import with_local_start
from pipeline.lib.settings import DoppelSettings, load_settings

log = logging.getLogger("doppel")


def build_definitions(settings: DoppelSettings) -> dg.Definitions:
    days = daily_partitions(settings.start_date)
    # Every run of these jobs (schedule, sensors, the UI's launchpad) names the console
    # logger chosen below in its config; `loggers=` alone would never take effect.
    run_config = run_logs_config(settings)
    daily_images_job = build_daily_images_job(run_config)
    return dg.Definitions(
        # Days from the settings' start, with the production step retry.
        assets=[
            *daily_assets(days),
            build_image_features(days),
            build_human_votes(days),
            machine_judge,
            findings,
            gallery_site,
        ],
        jobs=[daily_images_job, build_gallery_site_job(run_config)],
        schedules=[build_daily_images_schedule(settings, daily_images_job)],
        sensors=[build_gap_fill_sensor(settings, days), gallery_refresh_sensor],
        resources=build_resources(settings),
        # The two steps run one after the other either way; in_process saves a process
        # start per step, multiprocess (Dagster's default) contains a crashing step.
        executor=(
            dg.in_process_executor
            if settings.run_executor == "in_process"
            else dg.multiprocess_executor
        ),
        # DOPPEL_LOG_FORMAT=json: Dagster's run logs on the console as JSON lines too (for
        # the runs whose config names it: run_logs_config).
        loggers={"console": dg.json_console_logger} if settings.log_format == "json" else None,
    )


@dg.definitions
def defs() -> dg.Definitions:
    """Loading reads the environment, the local instance's first day and the database's
    migration (to say what to run if it is not this code's), and writes and configures
    nothing. The entry points put .env into the environment (`doppel`, and
    `dg dev`/`dagster dev` from the folder that holds it) and set up logging (`doppel`, and
    in each step's process the `logs` resource)."""
    # A local instance starts at its recorded first day (yesterday, if none is recorded yet).
    settings = with_local_start(
        load_settings(_env_file=None), clock.utc_today() - timedelta(days=1)
    )
    log.info(settings.summary())
    # The webserver, daemon and code server only check the schema (runs would fail on it).
    if problem := schema_problem_at(settings.resolved_database_url):
        log.warning("doppel: %s", problem)
    return build_definitions(settings)
