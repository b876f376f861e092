"""`make run`: materialize the last complete days into the persistent local instance.

Runs go through Dagster (in-process), so they show in `make dev`'s UI with their metadata
and checks. Days already done cost nothing: the assets reuse what is stored; photos waiting
for a retry are asked for at once (a person asked). Before the
first day, runs left STARTED by a killed `doppel run` are marked failed and their pool
slots freed (`pipeline.lib.orchestration.local_runs`); a wait for a slot is bounded.
"""

from __future__ import annotations

import shlex
import shutil
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

import dagster as dg
from sqlalchemy import func, select

from pipeline.definitions import build_definitions
from pipeline.defs.assets.generated_images import WAITING_NOW_TAG
from pipeline.defs.jobs import daily_images_job, gallery_site_job
from pipeline.defs.limits import CAUSE, IMAGE_GENERATOR_POOL, SETTING
from pipeline.defs.partitions import daily_partitions, last_complete_days
from pipeline.lib.core import clock
from pipeline.lib.day.outcomes import day_outcomes
from pipeline.lib.db import Database, LookAlike, Photo
from pipeline.lib.db.database import shown
from pipeline.lib.orchestration.instance import (
    ensure_local_instance,
    record_local_start,
    with_local_start,
)
from pipeline.lib.orchestration.local_runs import owner_tags, recover_stale_runs, wait_for_pool_slot
from pipeline.lib.settings import DoppelSettings

if TYPE_CHECKING:
    from dagster._utils.error import SerializableErrorInfo

T = TypeVar("T")
# Each day's failure is reported below in one line; its event log (stack trace included) is in
# the instance, for `make dev`'s UI.
QUIET_LOGS = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}
SLOT_WAIT_S = 60.0  # a day's step holds its slot for minutes at most on a laptop


# `doppel run`'s exit status (README, "Commands").
EXIT_FINAL = 0  # every photo of every day has a final outcome
EXIT_LEFT = 1  # a photo waits for a retry, or a step failed
EXIT_SETTING = 2  # a setting to fix


@dataclass
class RunReport:
    settings: DoppelSettings
    dagster_home: str
    results: dict[str, str] = field(default_factory=dict)
    new_generations: int = 0
    gallery: str | None = None  # the published index.html
    recovered: list[str] = field(default_factory=list)
    exit_status: int = EXIT_FINAL

    def left(self, status: int) -> None:
        self.exit_status = max(self.exit_status, status)

    def lines(self) -> list[str]:
        s = self.settings
        out = []
        if self.recovered:
            out.append(
                f"marked {len(self.recovered)} run(s) of a killed doppel run as failed "
                "and freed their pool slots"
            )
        out += [f"{day}: {status}" for day, status in self.results.items()]
        out.append(f"new look-alikes this run: {self.new_generations}")
        out.append(f"database:        {shown(s.resolved_database_url)}")  # no password
        if s.store == "local":
            out.append(f"images:          {s.objects_dir.resolve()}")
        else:
            out.append(f"images:          s3://{s.s3_bucket}/{s.s3_prefix}")
        doppel = doppel_command()
        out.append(f"dagster runs:    {self.dagster_home}  (see them with `{doppel} dev`)")
        out.append(f"status:          {doppel} status")
        if self.gallery:
            out.append(f"gallery:         {self.gallery}")
        return out


def doppel_command() -> str:
    """The `doppel` to name in what to run next: this one, wherever it is installed (a
    checkout's .venv, or the venv or user site its wheel went into), not a checkout's
    relative .venv/bin/doppel. Bare `doppel` when PATH finds this very script."""
    beside = Path(sys.executable).parent / "doppel"
    if not beside.is_file():  # `python -m pipeline.cli` with the script elsewhere
        return "doppel"
    on_path = shutil.which("doppel")
    if on_path is not None and Path(on_path).resolve() == beside.resolve():
        return "doppel"
    return shlex.quote(str(beside))


def run_days(
    settings: DoppelSettings,
    *,
    days: int,
    day: str | None = None,
    say: Callable[[str], None] = print,
    slot_wait_s: float = SLOT_WAIT_S,
) -> RunReport:
    home = ensure_local_instance()
    # The first day this run makes is the local instance's first day, unless it has an
    # earlier one (or DOPPEL_START_DATE is set).
    wanted = date.fromisoformat(day) if day else clock.utc_today() - timedelta(days=days)
    record_local_start(settings, wanted)
    settings = with_local_start(settings, wanted)
    say(settings.summary())  # with the start the days are checked against
    report = RunReport(settings, str(home))
    defs = build_definitions(settings)
    partitions = daily_partitions(settings.start_date)
    job = defs.resolve_job_def(daily_images_job.name)
    db = Database(settings.resolved_database_url)
    db.upgrade()  # the assets would; the before/after counts need the tables first
    with dg.DagsterInstance.get() as instance:
        report.recovered = recover_stale_runs(instance)
        try:
            for key in [day] if day else last_complete_days(partitions, days):
                held = wait_for_pool_slot(
                    instance, IMAGE_GENERATOR_POOL, timeout_s=slot_wait_s, say=say
                )
                if held is not None:
                    report.results[key] = f"not run: {held}"
                    continue
                before = _look_alikes(db, key)
                result = _off_the_main_thread(
                    lambda key=key: job.execute_in_process(  # type: ignore[misc]
                        partition_key=key,
                        instance=instance,
                        run_config=QUIET_LOGS,
                        raise_on_error=False,
                        tags=owner_tags() | {WAITING_NOW_TAG: "true"},
                    )
                )
                report.results[key] = _day_line(result, db, key, report)
                # Look-alikes another run made meanwhile appeared too, but are not this run's.
                elsewhere = made_elsewhere(result)
                report.new_generations += max(0, _look_alikes(db, key) - before - elsewhere)
            # Then the gallery, from every day's tables (unchanged pages are not rewritten).
            gallery = _off_the_main_thread(
                lambda: defs.resolve_job_def(gallery_site_job.name).execute_in_process(
                    instance=instance,
                    run_config=QUIET_LOGS,
                    raise_on_error=False,
                    tags=owner_tags(),
                )
            )
        except BaseException:
            # Ctrl-C or SIGTERM: leave no run STARTED and no slot claimed behind us.
            recover_stale_runs(instance, include_own=True)
            raise
        report.results["gallery build"] = "ok"
        if not gallery.success:
            report.results["gallery build"] = failure_reason(gallery)
            report.left(EXIT_SETTING if needs_a_setting(gallery) else EXIT_LEFT)
        for event in gallery.get_asset_materialization_events():
            index = event.event_specific_data.materialization.metadata.get("index")  # type: ignore[union-attr]
            report.gallery = str(index.value) if index is not None else None
    db.dispose()
    return report


def _day_line(result: dg.ExecuteInProcessResult, db: Database, day: str, report: RunReport) -> str:
    """What became of the day: its photos by outcome, or why its run failed."""
    if not result.success:
        report.left(EXIT_SETTING if needs_a_setting(result) else EXIT_LEFT)
        return failure_reason(result)
    photos = db.photos_of_day(date.fromisoformat(day))
    outcomes = day_outcomes(photos, report.settings.generator_names)
    if not outcomes.final:
        report.left(EXIT_LEFT)
    elsewhere = made_elsewhere(result)
    return outcomes.line() + (f" ({elsewhere} made by another run)" if elsewhere else "")


def made_elsewhere(result: dg.ExecuteInProcessResult) -> int:
    """Photos of the day another run was making (it held their claims): what the day's
    look-alikes materialization says."""
    found = 0
    for event in result.get_asset_materialization_events():
        value = event.event_specific_data.materialization.metadata.get("made_by_another_run")  # type: ignore[union-attr]
        if value is not None and isinstance(value.value, int):
            found += value.value
    return found


def _look_alikes(db: Database, day: str) -> int:
    """Succeeded look-alikes of a day, from the database (not from any run's counters)."""
    with db.session() as session:
        count = session.scalar(
            select(func.count())
            .select_from(LookAlike)
            .join(LookAlike.photo)
            .where(
                Photo.day == date.fromisoformat(day),
                LookAlike.status == "succeeded",
            )
        )
    return int(count or 0)


def _off_the_main_thread(execute: Callable[[], T]) -> T:
    """Run `execute` in a worker thread while the main thread waits in short steps.

    On the main thread Dagster takes over Ctrl-C and SIGTERM during a run and turns them
    into a step retry (it honours the step's RetryPolicy on interrupts), so `doppel run`
    would not stop. Off it, Dagster leaves the signals alone, they raise KeyboardInterrupt
    here at once, and `run_days` marks the run failed and frees its slots."""
    outcome: dict[str, Any] = {}

    def work() -> None:
        try:
            outcome["value"] = execute()
        except BaseException as exc:
            outcome["error"] = exc

    worker = threading.Thread(target=work, name="doppel-run", daemon=True)
    worker.start()
    while worker.is_alive():
        worker.join(0.25)
    if "error" in outcome:
        raise outcome["error"]
    return cast(T, outcome["value"])


def failure_reason(result: dg.ExecuteInProcessResult) -> str:
    """The first real reason, in one line: a step's own failure description, or the error
    its code raised (`FileNotFoundError: ...`), never Dagster's wrapper around it ("Error
    occurred while executing op") or its summary of retries ("Exceeded max_retries")."""
    for event in result.all_events:
        if not event.is_step_failure or event.step_failure_data is None:
            continue
        data = event.step_failure_data
        user = data.user_failure_data
        if user is not None and user.description:
            message = user.description
        else:
            error = data.error
            while error is not None and error.cause is not None and _is_wrapper(error):
                error = error.cause
            message = error.message if error is not None else "step failed"
        first = " ".join(message.strip().splitlines()[0].split()) if message.strip() else ""
        return f"failed at {event.step_key}: {first[:400] or 'step failed'}"
    return "failed"


def _is_wrapper(error: SerializableErrorInfo) -> bool:
    """Dagster's own errors that carry the real one as their cause."""
    return error.cls_name.startswith("Dagster") or error.message.startswith("Exceeded max_retries")


def needs_a_setting(result: dg.ExecuteInProcessResult) -> bool:
    """Whether a step failed for a setting to fix (`permanent_failure(setting=True)`)."""
    for event in result.get_step_failure_events():
        user = event.step_failure_data.user_failure_data if event.step_failure_data else None
        cause = user.metadata.get(CAUSE) if user is not None else None
        if cause is not None and cause.value == SETTING:
            return True
    return False
