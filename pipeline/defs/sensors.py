"""The gap-fill sensor: heals missed or failed days with one backfill, without storms.

Each tick: if a backfill of these assets is still in flight, skip. Otherwise read the status
of both assets for the look-back window, the failed attempts of each candidate day from the
run history, the days whose photos wait for a retry from the database, and ask `find_gaps`
which days to fill. Those go into ONE backfill (the daemon runs it like a UI backfill): both
assets of a missing or failed day, only the look-alikes of a day with photos waiting. A tick
with nothing to do says why in its SkipReason.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta

import dagster as dg

from pipeline.defs.jobs import GALLERY_SITE_JOB
from pipeline.defs.keys import (
    FEATURES_KEY,
    GALLERY_KEY,
    HUMAN_VOTES_KEY,
    LOOK_ALIKES_KEY,
    PHOTOS_KEY,
)
from pipeline.lib.core import clock
from pipeline.lib.db import SchemaNotCurrent
from pipeline.lib.orchestration.backfills import backfills_in_flight, request_backfill
from pipeline.lib.orchestration.gaps import (
    DayHistory,
    GapPolicy,
    PartState,
    State,
    Waiting,
    find_gaps,
)
from pipeline.lib.settings import DoppelSettings

GAP_FILL_TAGS = {"doppel/trigger": "gap_fill_sensor"}
# The assets every gap-filling backfill covers, with the words a tick's reason uses.
LOOK_ALIKES = "look-alikes"
ASSET_LABELS = {PHOTOS_KEY: "photos", LOOK_ALIKES_KEY: LOOK_ALIKES}
# What a backfill of a day makes: those, their images' features (what the machine judge
# reads) and the day's votes summed, for the days it makes look-alikes of, as the daily job
# does; only a daily run or a backfill computes them.
DAY_ASSETS = [*ASSET_LABELS, FEATURES_KEY, HUMAN_VOTES_KEY]
FAILED_RUN_STATUSES = [dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED]
# Dagster's partition statuses in the words of `find_gaps` (anything else: not made yet).
PART_STATES = {
    dg.AssetPartitionStatus.MATERIALIZED: PartState.MADE,
    dg.AssetPartitionStatus.FAILED: PartState.FAILED,
    dg.AssetPartitionStatus.IN_PROGRESS: PartState.RUNNING,
}


def gap_policy(settings: DoppelSettings) -> GapPolicy:
    return GapPolicy(
        max_attempts=settings.gap_max_attempts,
        retry_after=timedelta(minutes=settings.gap_retry_after_minutes),
        schedule_time=time(settings.schedule_hour, settings.schedule_minute),
        stop_wait=timedelta(hours=settings.gap_stop_wait_hours),
    )


def build_gap_fill_sensor(
    settings: DoppelSettings, partitions: dg.PartitionsDefinition
) -> dg.SensorDefinition:
    """Over `partitions`, the ones the definitions' assets have. "Now" is
    `pipeline.lib.core.clock`'s, which tests pin."""
    policy = gap_policy(settings)
    lookback = settings.gap_lookback_days

    # asset_selection= (not target=): the daemon only accepts backfill requests from
    # sensors with an asset selection that covers every asset in the backfill.
    @dg.sensor(
        name="gap_fill_sensor",
        asset_selection=DAY_ASSETS,
        minimum_interval_seconds=settings.gap_sensor_interval_s,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=(
            f"Backfills days of the last {lookback} whose photos or look-alikes are missing "
            f"or failed (at most {policy.max_attempts} failed attempts a day), and the "
            "look-alikes of days with photos waiting for a retry, one backfill at a time."
        ),
    )
    def gap_fill_sensor(context: dg.SensorEvaluationContext) -> dg.RunRequest | dg.SkipReason:
        instance = context.instance
        if in_flight := backfills_in_flight(instance, ASSET_LABELS):
            backfill = in_flight[0]
            origin = "this sensor's" if _is_ours(backfill.tags) else "another"
            return dg.SkipReason(
                f"{origin} backfill {backfill.id} is still {backfill.status.lower()}; "
                "gaps are looked for again once it has finished"
            )

        now = clock.utc_now()
        days = partitions.get_partition_keys(current_time=now)[-lookback:]
        statuses = {
            label: _statuses(instance, key, partitions, days) for key, label in ASSET_LABELS.items()
        }
        history = _failed_attempts(instance, _candidates(days, statuses), policy.max_attempts)
        try:
            stopped_at, waiting = _database_facts(settings, days)
        except SchemaNotCurrent as exc:  # a tick never migrates; runs would fail the same way
            return dg.SkipReason(str(exc))
        report = find_gaps(
            days,
            statuses,
            history,
            now=now,
            policy=policy,
            generator_stopped_at=stopped_at,
            waiting=waiting,
        )
        for capped in report.of_kind("capped"):
            context.log.warning(f"{capped.day}: {capped.reason}")
        if not report.days_to_backfill:
            return dg.SkipReason(report.summary())
        context.log.info(report.summary())
        keys = {label: key for key, label in ASSET_LABELS.items()}
        days_by_asset = report.days_by_asset(list(keys))
        requested = {keys[label]: days for label, days in days_by_asset.items()}
        if LOOK_ALIKES_KEY in requested:
            requested[FEATURES_KEY] = requested[HUMAN_VOTES_KEY] = requested[LOOK_ALIKES_KEY]
        return request_backfill(requested, partitions, GAP_FILL_TAGS)

    return gap_fill_sensor


def _database_facts(
    settings: DoppelSettings, days: Sequence[str]
) -> tuple[datetime | None, dict[str, Waiting]]:
    """From the database: when the generator last refused for good (the ledger of billed
    requests), and the days whose photos wait for a retry."""
    from pipeline.lib.billing.ledger import Ledger
    from pipeline.lib.day.outcomes import waiting_photos
    from pipeline.lib.db import Database

    db = Database(settings.resolved_database_url)
    try:
        db.require_current_schema()
        # Only the lineup's: a generator taken out of it would be asked for in vain.
        waiting = waiting_photos(
            db, [date.fromisoformat(day) for day in days], settings.generator_names
        )
        # Any generator of the lineup refusing for good holds back the day it would redo.
        ledger = Ledger(db)
        stops = [when for g in settings.generator_names if (when := ledger.last_stop(g))]
        return max(stops, default=None), {
            day.isoformat(): Waiting(found.photos, LOOK_ALIKES, found.due_at)
            for day, found in waiting.items()
        }
    finally:
        db.dispose()


def _is_ours(tags: dict[str, str]) -> bool:
    return all(tags.get(k) == v for k, v in GAP_FILL_TAGS.items())


def _statuses(
    instance: dg.DagsterInstance,
    key: dg.AssetKey,
    partitions: dg.PartitionsDefinition,
    days: Sequence[str],
) -> dict[str, State]:
    found = instance.get_status_by_partition(key, list(days), partitions) or {}
    return {day: PART_STATES.get(s) if (s := found.get(day)) else None for day in days}


def _candidates(days: Sequence[str], statuses: dict[str, dict[str, State]]) -> list[str]:
    """Days where some asset is missing or failed and nothing is running."""
    return [
        day
        for day in days
        if not any(s[day] is PartState.RUNNING for s in statuses.values())
        and any(s[day] in (None, PartState.FAILED) for s in statuses.values())
    ]


def _failed_attempts(
    instance: dg.DagsterInstance, days: Sequence[str], cap: int
) -> dict[str, DayHistory]:
    """Failed or canceled runs per day, from the run history (newest `cap` are enough)."""
    history = {}
    for day in days:
        records = instance.get_run_records(
            filters=dg.RunsFilter(tags={"dagster/partition": day}, statuses=FAILED_RUN_STATUSES),
            limit=cap,
        )
        ended = [r.end_time for r in records if r.end_time is not None]
        history[day] = DayHistory(
            failed_attempts=len(records),
            last_failure_at=datetime.fromtimestamp(max(ended), UTC) if ended else None,
        )
    return history


# The gallery is one unpartitioned asset over every day; rebuild it when any day's
# look-alikes, or its votes summed, are newly materialized (by the schedule, a backfill or the
# UI) and not yet in a gallery built since, at most one rebuild at a time. The cursor is the
# newest such materialization already handled. (The votes come in the same run just after the
# look-alikes: a rebuild started between the two is followed by another.)
GALLERY_INPUTS = [LOOK_ALIKES_KEY, HUMAN_VOTES_KEY]
GALLERY_RUN_ACTIVE = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]


@dg.sensor(
    name="gallery_refresh_sensor",
    # By name: the job itself is built with the settings' run config (build_definitions).
    job_name=GALLERY_SITE_JOB,
    minimum_interval_seconds=120,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Rebuilds the gallery after new look-alikes are materialized.",
)
def gallery_refresh_sensor(context: dg.SensorEvaluationContext) -> dg.RunRequest | dg.SkipReason:
    instance = context.instance
    records = [
        record
        for key in GALLERY_INPUTS
        for record in instance.fetch_materializations(key, limit=1).records
    ]
    if not records:
        return dg.SkipReason("no look-alikes materialized yet")
    last = max(records, key=lambda record: record.storage_id)
    newest = last.storage_id
    if context.cursor and int(context.cursor) >= newest:
        return dg.SkipReason("the gallery already shows the newest look-alikes")
    if _gallery_started_after(instance, last.timestamp):  # a first tick after `doppel run`
        context.update_cursor(str(newest))
        return dg.SkipReason("the gallery was built after the newest look-alikes")
    running = instance.get_run_records(
        dg.RunsFilter(job_name=GALLERY_SITE_JOB, statuses=GALLERY_RUN_ACTIVE), limit=1
    )
    if running:
        return dg.SkipReason(f"gallery run {running[0].dagster_run.run_id} is still going")
    context.update_cursor(str(newest))
    return dg.RunRequest(run_key=f"gallery-after-{newest}")


def _gallery_started_after(instance: dg.DagsterInstance, stored_at: float) -> bool:
    """Whether the newest gallery was built by a run that started after `stored_at` (so it
    read those tables; one that was already building may have missed them)."""
    built = instance.fetch_materializations(GALLERY_KEY, limit=1).records
    run = instance.get_run_record_by_id(built[0].run_id) if built and built[0].run_id else None
    return run is not None and run.start_time is not None and run.start_time > stored_at
