"""The gap-fill sensor through `evaluate_tick` (the daemon's validation included) on a real
test instance, seeded by materializing days: done, failed, running and missing."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from sqlalchemy import inspect

from pipeline.definitions import build_definitions
from pipeline.defs.partitions import daily_partitions
from pipeline.defs.resources import build_resources
from pipeline.defs.resources.generators import ImageGeneratorResource
from pipeline.defs.sensors import GAP_FILL_TAGS, build_gap_fill_sensor
from pipeline.lib.core import clock
from pipeline.lib.db import Database
from pipeline.lib.generators import ImageGenerator
from pipeline.lib.orchestration.backfills import list_backfills, set_backfill_status
from pipeline.lib.settings import DoppelSettings, load_settings
from pipeline_tests.fakes import (
    FailingGeneratorResource,
    MirrorGenerator,
    MirrorGeneratorResource,
    UnreachableGeneratorResource,
)
from pipeline_tests.fixtures.assets import generated_images, unsplash_images
from pipeline_tests.fixtures.backfills import requested_days, submit_backfill

# The sensor's clock: the window is the four days before, whatever the real date is.
pytestmark = pytest.mark.dates  # `make test-dates` runs these under faketime

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
MISSING, RUNNING, FAILING, DONE = "2026-11-24", "2026-11-25", "2026-11-26", "2026-11-27"
# A day's photos and look-alikes, the look-alikes' features, and the day's votes summed.
BOTH = {
    unsplash_images.key.to_user_string(),
    generated_images.key.to_user_string(),
    "image_features",
    "human_votes",
}

# Generators blocked until their test releases them, by name (resources are rebuilt per step).
GATES: dict[str, threading.Event] = {}


class GatedGenerator(MirrorGenerator):
    def __init__(self, gate: str):
        super().__init__(counter=gate)
        self.gate = gate

    def generate(self, source):  # type: ignore[no-untyped-def]
        GATES[self.gate].wait(timeout=60)
        return super().generate(source)


class GatedGeneratorResource(ImageGeneratorResource):
    gate: str

    def open(self) -> ImageGenerator:
        return GatedGenerator(self.gate)


@pytest.fixture
def settings(local_settings: DoppelSettings) -> DoppelSettings:
    return load_settings(
        _env_file=None,
        data_dir=local_settings.data_dir,
        photos_per_day=1,
        gap_lookback_days=4,
        gap_retry_after_minutes=0,
    )


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as instance:
        yield instance


def materialize(
    settings: DoppelSettings,
    instance: dg.DagsterInstance,
    day: str,
    generator: ImageGeneratorResource | None = None,
) -> dg.ExecuteInProcessResult:
    generator = generator or MirrorGeneratorResource(counter=f"mirror-{uuid.uuid4().hex}")
    return dg.materialize(
        [unsplash_images, generated_images],
        partition_key=day,
        resources=build_resources(settings) | {"image_generator": generator},
        instance=instance,
        raise_on_error=False,
    )


def fail(settings: DoppelSettings, instance: dg.DagsterInstance, day: str) -> None:
    assert not materialize(settings, instance, day, UnreachableGeneratorResource()).success


def tick(settings: DoppelSettings, instance: dg.DagsterInstance) -> Any:
    sensor = build_gap_fill_sensor(settings, daily_partitions(settings.start_date))
    context = dg.build_sensor_context(instance=instance, definitions=build_definitions(settings))
    with clock.pinned(NOW):
        return sensor.evaluate_tick(context)


@pytest.mark.slow
def test_gap_fill_sensor_backfills_missing_and_failed_days_not_running_or_done(
    settings: DoppelSettings, instance: dg.DagsterInstance
) -> None:
    assert materialize(settings, instance, DONE).success
    fail(settings, instance, FAILING)
    gate = f"gate-{uuid.uuid4().hex}"
    GATES[gate] = threading.Event()
    running = threading.Thread(
        target=materialize, args=(settings, instance, RUNNING, GatedGeneratorResource(gate=gate))
    )
    running.start()
    try:
        _wait_until_in_progress(instance, RUNNING)
        result = tick(settings, instance)
    finally:
        GATES[gate].set()
        running.join(timeout=60)

    assert result.skip_message is None
    [request] = result.run_requests
    assert requested_days(request) == {key: [MISSING, FAILING] for key in BOTH}
    assert request.tags.items() >= GAP_FILL_TAGS.items()
    assert request.run_key is None  # retried days must never be deduplicated away


@pytest.mark.slow
def test_gap_fill_sensor_skips_with_a_reason_when_every_day_is_done(
    settings: DoppelSettings, instance: dg.DagsterInstance
) -> None:
    one_day = settings.model_copy(update={"gap_lookback_days": 1})
    assert materialize(one_day, instance, DONE).success
    result = tick(one_day, instance)
    assert not result.run_requests
    assert result.skip_message == f"{DONE}..{DONE}: nothing to fill; 1 done"


@pytest.mark.slow
def test_gap_fill_sensor_attempt_cap_leaves_a_broken_day_alone(
    settings: DoppelSettings, instance: dg.DagsterInstance
) -> None:
    one_day = settings.model_copy(update={"gap_lookback_days": 1, "gap_max_attempts": 2})
    fail(one_day, instance, DONE)
    [request] = tick(one_day, instance).run_requests  # attempt 2 of 2 is allowed
    assert requested_days(request) == {key: [DONE] for key in BOTH}

    fail(one_day, instance, DONE)
    result = tick(one_day, instance)
    assert not result.run_requests
    assert "left alone after 2 failed attempts" in result.skip_message
    assert f"doppel backfill --from {DONE} --to {DONE}" in result.skip_message


@pytest.mark.slow
def test_gap_fill_sensor_asks_again_for_a_photo_waiting_never_for_one_failed_for_good(
    settings: DoppelSettings, instance: dg.DagsterInstance
) -> None:
    two_days = settings.model_copy(update={"gap_lookback_days": 2})  # FAILING and DONE
    [lead] = two_days.generator_names  # the fakes stand in for the lineup's generator
    with clock.pinned(NOW - timedelta(hours=1)):  # both materialize: the step ran to the end
        for day, happened in ((DONE, "cannot_use_photo"), (FAILING, "server_error")):
            generator = FailingGeneratorResource(happened=happened, name=lead)
            assert materialize(two_days, instance, day, generator).success
    [request] = tick(two_days, instance).run_requests
    # Only the look-alikes of the day whose photo may still succeed; never the other.
    assert requested_days(request) == {
        generated_images.key.to_user_string(): [FAILING],
        "image_features": [FAILING],
        "human_votes": [FAILING],
    }
    # Its generator taken out of the lineup, the photo waits for nothing: no day is asked
    # for in vain at every tick (it is asked for again once the generator is back, above).
    other = two_days.model_copy(update={"generator": "style-transfer"})
    assert other.generator_names != two_days.generator_names
    result = tick(other, instance)
    assert not result.run_requests
    assert result.skip_message == f"{FAILING}..{DONE}: nothing to fill; 2 done"

    with clock.pinned(NOW - timedelta(minutes=30)):
        generator = MirrorGeneratorResource(counter=f"mirror-{uuid.uuid4().hex}", name=lead)
        assert materialize(two_days, instance, FAILING, generator).success  # the retry
    result = tick(two_days, instance)
    assert not result.run_requests
    assert result.skip_message == f"{FAILING}..{DONE}: nothing to fill; 2 done"


def test_gap_fill_sensor_launches_no_second_backfill_while_one_is_in_flight(
    settings: DoppelSettings, instance: dg.DagsterInstance
) -> None:
    [request] = tick(settings, instance).run_requests
    backfill_id = submit_backfill(instance, request)
    [backfill] = list_backfills(instance)
    assert (backfill.id, backfill.status) == (backfill_id, "REQUESTED")
    assert backfill.tags.items() >= GAP_FILL_TAGS.items()
    assert backfill.days_by_asset == {key: [MISSING, RUNNING, FAILING, DONE] for key in BOTH}

    # The days are still missing, but the backfill that will fill them is in flight.
    result = tick(settings, instance)
    assert not result.run_requests
    assert result.skip_message.startswith(f"this sensor's backfill {backfill_id} is still")

    # It is the in-flight check, not a cursor, that holds the sensor back: once the
    # backfill has ended (here: canceled), the still-missing days are requested again.
    set_backfill_status(instance, backfill_id, "CANCELED")
    assert tick(settings, instance).run_requests


def test_gap_fill_sensor_waits_for_a_backfill_started_by_hand(
    settings: DoppelSettings, instance: dg.DagsterInstance
) -> None:
    [request] = tick(settings, instance).run_requests
    by_hand = request.with_replaced_attrs(tags={"doppel/trigger": "cli"})
    backfill_id = submit_backfill(instance, by_hand)
    result = tick(settings, instance)
    assert result.skip_message.startswith(f"another backfill {backfill_id} is still")


def test_gap_fill_sensor_is_registered_running_with_the_configured_interval(
    settings: DoppelSettings,
    instance: dg.DagsterInstance,  # open while Definitions resolve (see test_schedules.py)
) -> None:
    defs = build_definitions(settings.model_copy(update={"gap_sensor_interval_s": 42}))
    sensor = defs.resolve_sensor_def("gap_fill_sensor")
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    assert sensor.minimum_interval_seconds == 42
    assert sensor.asset_selection is not None


def _wait_until_in_progress(instance: dg.DagsterInstance, day: str, timeout: float = 30) -> None:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = instance.get_status_by_partition(
            generated_images.key, [day], generated_images.partitions_def
        )
        if status and status.get(day) == dg.AssetPartitionStatus.IN_PROGRESS:
            return
        time.sleep(0.05)
    raise AssertionError(f"{day} never showed as in progress")


def test_a_tick_on_a_database_not_migrated_skips_saying_what_to_run_and_migrates_nothing(
    tmp_path: Path, instance: dg.DagsterInstance
) -> None:
    fresh = load_settings(_env_file=None, data_dir=tmp_path / "fresh", gap_lookback_days=2)
    result = tick(fresh, instance)
    assert not result.run_requests
    assert result.skip_message == (
        f"the database sqlite {tmp_path / 'fresh' / 'doppel.db'} has no Doppel tables yet: "
        "run `doppel migrate`"
    )
    db = Database(fresh.resolved_database_url)
    assert inspect(db.engine).get_table_names() == []  # a tick never migrates
    db.dispose()
