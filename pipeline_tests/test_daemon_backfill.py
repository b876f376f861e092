"""End to end with a real `dagster-daemon` on a temporary instance (the shipped local
dagster.yaml) and the embedded default: a day missing and a day failed heal through ONE
backfill launched by the gap-fill sensor, and the next tick skips."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import dagster as dg
import pytest
import yaml

from pipeline.defs.partitions import last_complete_days
from pipeline.defs.resources import build_resources
from pipeline.defs.sensors import GAP_FILL_TAGS
from pipeline.lib.day.counts import day_status
from pipeline.lib.db import Database
from pipeline.lib.orchestration.backfills import BackfillSummary, list_backfills
from pipeline.lib.orchestration.instance import LOCAL_INSTANCE_YAML
from pipeline.lib.settings import DEFAULT_START_DATE, load_settings
from pipeline_tests.conftest import migrated
from pipeline_tests.dagster_processes import dagster_env, dagster_process, make_home, tail
from pipeline_tests.fakes import UnreachableGeneratorResource
from pipeline_tests.fixtures.assets import TEST_PARTITIONS, generated_images, unsplash_images

# Hard bound on the daemon part: start-up, the sensor's tick, the backfill daemon (which
# wakes every 30 s), two runs one after another, the backfill's completion, a skip tick.
DEADLINE_S = 300
ASSETS = [unsplash_images, generated_images]
BOTH = {a.key.to_user_string() for a in ASSETS} | {"image_features", "human_votes"}
# Small images keep each daemon-launched run to a few seconds on two cores.
SMALL = {"photos_per_day": "1", "work_size": "64", "output_size": "96"}
T = TypeVar("T")


@pytest.mark.slow  # a real daemon runs the backfill
def test_daemon_gap_fill_sensor_backfill_heals_missing_and_failed_days(tmp_path: Path) -> None:
    home, data = make_home(tmp_path), tmp_path / "data"
    # Each healed day is a run process (about 5 s of CPU): one of each kind of gap.
    days = last_complete_days(TEST_PARTITIONS, 3)
    missing, failed, done = days
    gaps = [missing, failed]

    # Seed the instance as a real history: one good day, one whose generator was down.
    seeding = time.monotonic()
    settings = migrated(load_settings(_env_file=None, data_dir=data, **SMALL))  # type: ignore[arg-type]
    resources = build_resources(settings)
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert materialize(done, resources, instance).success
        down = resources | {"image_generator": UnreachableGeneratorResource()}
        assert not materialize(failed, down, instance).success
        assert statuses(instance, days) == {
            missing: None,
            failed: "FAILED",
            done: "MATERIALIZED",
        }

    env = dagster_env(
        home,
        data_dir=str(data),
        # Explicit, as a deployment's: the seeded history is older than the instance.
        start_date=DEFAULT_START_DATE.isoformat(),
        gap_lookback_days="3",
        gap_sensor_interval_s="2",
        gap_retry_after_minutes="0",
        run_executor="in_process",  # one process per run, not one more per step
        **SMALL,
    )
    log = tmp_path / "daemon.log"
    started = time.monotonic()
    deadline = started + DEADLINE_S
    with (
        dagster_process(
            "dagster-daemon", "run", "-m", "pipeline.definitions", env=env, cwd=tmp_path, log=log
        ) as daemon,
        dg.DagsterInstance.from_config(str(home)) as instance,
    ):

        def until(what: str, check: Callable[[], T | None]) -> T:
            while time.monotonic() < deadline:
                if daemon.poll() is not None:
                    raise AssertionError(f"dagster-daemon exited:\n{tail(log)}")
                if (found := check()) is not None:
                    return found
                time.sleep(1)
            raise AssertionError(f"no {what} within {DEADLINE_S} s:\n{tail(log)}")

        backfill = until("finished backfill", lambda: _finished(list_backfills(instance)))
        healed_at = time.time()
        skip = until("skipped tick after the backfill", lambda: _skip_after(instance, healed_at))
        ticks = sensor_ticks(instance)

        assert backfill.status == "COMPLETED_SUCCESS", tail(log)
        assert backfill.tags.items() >= GAP_FILL_TAGS.items()
        assert backfill.days_by_asset == {key: gaps for key in BOTH}
        assert len(list_backfills(instance)) == 1  # one backfill, no storm
        assert [t.status.value for t in ticks].count("SUCCESS") == 1
        runs = instance.get_run_records(dg.RunsFilter(tags={"dagster/backfill": backfill.id}))
        assert sorted(r.dagster_run.tags["dagster/partition"] for r in runs) == gaps
        assert {r.dagster_run.status for r in runs} == {dg.DagsterRunStatus.SUCCESS}
        assert statuses(instance, days) == dict.fromkeys(days, "MATERIALIZED")
        assert skip.skip_reason == f"{days[0]}..{days[-1]}: nothing to fill; 3 done"
    print(
        f"\ndaemon e2e: seeded in {started - seeding:.0f} s, healed and skipped "
        f"{time.monotonic() - started:.0f} s after the daemon started"
    )

    db = Database(settings.resolved_database_url)
    status = {d["day"]: (d["photos"], d["generated_succeeded"]) for d in day_status(db)}
    db.dispose()
    assert status == dict.fromkeys(days, (1, 1))


@pytest.mark.slow
def test_backfill_run_limits_and_pools_in_the_shipped_instance_configs(tmp_path: Path) -> None:
    """What the daemon is held to: the pools the assets name have a limit, backfill runs
    a cap below the run limit (so the daily run always has a slot), a day one run at a
    time, crashed runs retry."""
    repo = Path(__file__).resolve().parents[1]
    pools = {unsplash_images.op.pool, generated_images.op.pool}
    assert pools == {"photo_source", "image_generator"}
    assert unsplash_images.op.retry_policy and generated_images.op.retry_policy
    for config in (LOCAL_INSTANCE_YAML, repo / "dagster.yaml"):
        home = tmp_path / config.parent.name
        home.mkdir()
        settings = yaml.safe_load(config.read_text())
        settings.pop("storage", None)  # the deployed Postgres storage is tested elsewhere
        (home / "dagster.yaml").write_text(yaml.safe_dump(settings))
        with dg.DagsterInstance.from_config(str(home)) as instance:
            queue = instance.get_concurrency_config().run_queue_config
            pool = instance.get_concurrency_config().pool_config
            [backfills] = [
                limit
                for limit in queue.tag_concurrency_limits
                if limit["key"] == "dagster/backfill"
            ]
            assert 0 < backfills["limit"] < queue.max_concurrent_runs, config
            # One run per day at a time (a second one of a day waits in the queue).
            limits = queue.tag_concurrency_limits
            [per_day] = [x for x in limits if x["key"] == "dagster/partition"]
            assert per_day["limit"] == 1, config
            assert per_day["value"] == {"applyLimitPerUniqueValue": True}, config
            assert pool.default_pool_limit == 1 and pool.pool_granularity.value == "op"
            assert instance.run_retries_enabled and instance.run_retries_max_retries >= 1
            assert not instance.run_retries_retry_on_asset_or_op_failure
            assert instance.run_monitoring_enabled


def materialize(day: str, resources: dict[str, Any], instance: dg.DagsterInstance) -> Any:
    return dg.materialize(
        ASSETS, partition_key=day, resources=resources, instance=instance, raise_on_error=False
    )


def statuses(instance: dg.DagsterInstance, days: list[str]) -> dict[str, str | None]:
    """One status per day: the same for both assets, or a tuple when they differ."""
    per_asset = [
        instance.get_status_by_partition(a.key, days, TEST_PARTITIONS) or {} for a in ASSETS
    ]
    out: dict[str, Any] = {}
    for day in days:
        values = {(found.get(day).value if found.get(day) else None) for found in per_asset}
        out[day] = values.pop() if len(values) == 1 else tuple(sorted(map(str, values)))
    return out


def sensor_ticks(instance: dg.DagsterInstance) -> list[Any]:
    states = [s for s in instance.all_instigator_state() if s.name == "gap_fill_sensor"]
    if not states:
        return []
    return list(instance.get_ticks(states[0].instigator_origin_id, states[0].selector_id))


def _finished(backfills: list[BackfillSummary]) -> BackfillSummary | None:
    done = [b for b in backfills if b.status not in ("REQUESTED", "CANCELING", "FAILING")]
    return done[0] if done else None


def _skip_after(instance: dg.DagsterInstance, timestamp: float) -> Any:
    for tick in sensor_ticks(instance):  # newest first
        if tick.timestamp > timestamp and tick.status.value == "SKIPPED":
            return tick
    return None
