"""`make run`: materialize the last complete days into the persistent local instance.

Runs go through Dagster (in-process), so they show in `make dev`'s UI with their metadata
and checks. Days already done cost nothing: the assets reuse what is stored.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import dagster as dg

from pipeline.definitions import build_definitions
from pipeline.defs.jobs import daily_images_job, gallery_site_job
from pipeline.defs.partitions import last_complete_days
from pipeline.lib.db import Database
from pipeline.lib.instance import ensure_local_instance
from pipeline.lib.settings import DoppelSettings

# Each day's failure is reported below in one line; its event log (stack trace included) is in
# the instance, for `make dev`'s UI.
QUIET_LOGS = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}


@dataclass
class RunReport:
    settings: DoppelSettings
    dagster_home: str
    results: dict[str, str] = field(default_factory=dict)
    new_generations: int = 0
    gallery: str | None = None  # the published index.html

    @property
    def ok(self) -> bool:
        return all(status == "ok" for status in self.results.values())

    def lines(self) -> list[str]:
        s = self.settings
        out = [f"{day}: {status}" for day, status in self.results.items()]
        out.append(f"new look-alikes this run: {self.new_generations}")
        out.append(f"database:        {s.resolved_database_url.split('://', 1)[0]} "
                   f"({s.resolved_database_url.split(':///', 1)[-1]})")  # fmt: skip
        if s.store == "local":
            out.append(f"images:          {s.objects_dir.resolve()}")
        else:
            out.append(f"images:          s3://{s.s3_bucket}/{s.s3_prefix}")
        out.append(f"dagster runs:    {self.dagster_home}  (see them with `make dev`)")
        out.append("status:          .venv/bin/doppel status")
        if self.gallery:
            out.append(f"gallery:         {self.gallery}")
        return out


def run_days(settings: DoppelSettings, *, days: int) -> RunReport:
    home = ensure_local_instance()
    report = RunReport(settings, str(home))
    defs = build_definitions(settings)
    job = defs.resolve_job_def(daily_images_job.name)
    with dg.DagsterInstance.get() as instance:
        for day in last_complete_days(days):
            result = job.execute_in_process(
                partition_key=day, instance=instance, run_config=QUIET_LOGS, raise_on_error=False
            )
            report.results[day] = "ok" if result.success else _failure(result)
            for event in result.get_asset_materialization_events():
                materialization = event.event_specific_data.materialization  # type: ignore[union-attr]
                calls = materialization.metadata.get("generator_calls_this_run")
                if calls is not None:
                    report.new_generations += int(calls.value)  # type: ignore[arg-type]
        # Then the gallery, from every day's tables (unchanged pages are not rewritten).
        gallery = defs.resolve_job_def(gallery_site_job.name).execute_in_process(
            instance=instance, run_config=QUIET_LOGS, raise_on_error=False
        )
        report.results["gallery build"] = "ok" if gallery.success else _failure(gallery)
        for event in gallery.get_asset_materialization_events():
            index = event.event_specific_data.materialization.metadata.get("index")  # type: ignore[union-attr]
            report.gallery = str(index.value) if index is not None else None
    Database(settings.resolved_database_url).dispose()
    return report


def _failure(result: dg.ExecuteInProcessResult) -> str:
    for event in result.all_events:
        if event.is_step_failure and event.step_failure_data is not None:
            described = event.step_failure_data.user_failure_data  # a dg.Failure says it best
            error = event.step_failure_data.error
            text = (described.description if described else None) or (error and error.message)
            message = text.strip().splitlines()[0] if text else "step failed"
            return f"failed at {event.step_key}: {message}"
    return "failed"
