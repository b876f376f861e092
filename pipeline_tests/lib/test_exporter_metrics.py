"""The exporter's metrics from a real database and a real Dagster instance (in-process)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from pipeline.defs.keys import LOOK_ALIKES_KEY, PHOTOS_KEY
from pipeline.lib.core import clock
from pipeline.lib.day.counts import day_status
from pipeline.lib.db import Database, LookAlike, Photo
from pipeline.lib.observability.exporter import (
    DoppelCollector,
    WatchedAssets,
    build_registry,
    days_behind,
    exported_metric_names,
)

WATCHED = WatchedAssets(photos=PHOTOS_KEY, look_alikes=LOOK_ALIKES_KEY)

pytestmark = pytest.mark.dates  # `make test-dates` runs these under faketime

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)  # yesterday: 2026-11-26
START = date(2026, 11, 1)


@pytest.fixture(autouse=True)
def pinned_clock() -> Iterator[None]:
    with clock.pinned(NOW):
        yield


def samples(collector: DoppelCollector) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = generate_latest(build_registry(collector)).decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(found: dict[Any, float], name: str, **labels: str) -> float | None:
    return found.get((name, tuple(sorted(labels.items()))))


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Database]:
    db = Database(f"sqlite:///{tmp_path / 'doppel.db'}")
    db.upgrade()
    yield db
    db.dispose()


def add_day(db: Database, day: date, generations: list[dict[str, Any]], source: str = "samples"):  # type: ignore[no-untyped-def]
    with db.session() as session:
        for rank, fields in enumerate(generations):
            photo = Photo(
                source=source, source_id=f"{day}-{rank}", day=day, rank=rank, status="stored"
            )
            session.add(photo)
            session.flush()
            if fields:
                session.add(LookAlike(photo_id=photo.id, **fields))
        session.add(Photo(source=source, source_id=f"{day}-bad", day=day, rank=99, status="failed"))


@dg.asset
def broken() -> None:
    raise RuntimeError("always fails")


@pytest.mark.slow
def test_exporter_metrics_from_database_and_instance(database: Database) -> None:
    add_day(
        database,
        date(2026, 11, 25),
        [
            {"status": "succeeded", "generator": "openai", "latency_s": 12.0, "cost_usd": 0.04},
            {"status": "succeeded", "generator": "openai", "latency_s": 35.0, "cost_usd": 0.06},
            {"status": "refused", "generator": "openai", "latency_s": 3.0, "cost_usd": 0.0},
            {"status": "succeeded", "generator": "patch-remix", "latency_s": 0.4},
            {},  # collected, not generated yet
        ],
    )
    with dg.instance_for_test() as instance:
        instance.report_runless_asset_event(
            dg.AssetMaterialization("generated_images", partition="2026-11-24")
        )
        instance.report_runless_asset_event(
            dg.AssetMaterialization(
                "unsplash_images",
                partition="2026-11-24",
                metadata={"unsplash_ratelimit_remaining": 37},
            )
        )
        assert not dg.materialize([broken], instance=instance, raise_on_error=False).success
        collector = DoppelCollector(
            database, lambda: instance, start_date=START, assets=WATCHED, daily_budget_usd=5.0
        )
        found = samples(collector)

    assert value(found, "doppel_photos_collected_total", source="samples") == 5
    assert value(found, "doppel_photos_failed_total", source="samples") == 1
    generations = {k[1]: v for k, v in found.items() if k[0] == "doppel_generations_total"}
    assert generations == {
        (("generator", "openai"), ("status", "refused")): 1,
        (("generator", "openai"), ("status", "succeeded")): 2,
        (("generator", "patch-remix"), ("status", "succeeded")): 1,
    }
    assert value(found, "doppel_generation_spend_usd_total", generator="openai") == pytest.approx(
        0.1
    )
    assert value(found, "doppel_generation_daily_budget_usd") == 5.0
    openai = {"generator": "openai"}
    assert value(found, "doppel_generation_latency_seconds_count", **openai) == 3
    assert value(found, "doppel_generation_latency_seconds_sum", **openai) == 50.0
    assert value(found, "doppel_generation_latency_seconds_bucket", le="2.5", **openai) == 0
    assert value(found, "doppel_generation_latency_seconds_bucket", le="5.0", **openai) == 1
    assert value(found, "doppel_generation_latency_seconds_bucket", le="20.0", **openai) == 2
    assert value(found, "doppel_generation_latency_seconds_bucket", le="+Inf", **openai) == 3
    assert value(found, "doppel_unsplash_ratelimit_remaining") == 37
    assert value(found, "doppel_partitions_behind") == 2  # 2026-11-24 done; 25 and 26 are not
    assert (
        value(found, "doppel_newest_materialized_day_timestamp_seconds")
        == datetime(2026, 11, 24, tzinfo=UTC).timestamp()
    )
    assert value(found, "doppel_dagster_failed_runs_total") == 1
    assert value(found, "doppel_dagster_runs_in_flight", status="queued") == 0
    assert value(found, "doppel_exporter_read_ok", part="database") == 1
    assert value(found, "doppel_exporter_read_ok", part="dagster") == 1
    # Every sample is one the collector declares (what the dashboard test relies on).
    assert {name for name, _ in found} <= exported_metric_names()


def test_exporter_reports_unreadable_parts_instead_of_failing() -> None:
    nowhere = Database("postgresql+psycopg2://postgres@127.0.0.1:1/nothing")

    def no_instance() -> dg.DagsterInstance:
        raise RuntimeError("DAGSTER_HOME is not set")

    found = samples(DoppelCollector(nowhere, no_instance, start_date=START, assets=WATCHED))
    assert value(found, "doppel_exporter_read_ok", part="database") == 0
    assert value(found, "doppel_exporter_read_ok", part="dagster") == 0
    assert not any(name.startswith("doppel_photos") for name, _ in found)
    nowhere.dispose()


def test_exporter_on_a_fresh_database_counts_nothing_yet(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    fresh = Database(f"sqlite:///{tmp_path / 'empty.db'}")  # no tables: not migrated yet
    with dg.instance_for_test() as instance:
        found = samples(DoppelCollector(fresh, lambda: instance, start_date=START, assets=WATCHED))
    # It says at start what to run, and migrates nothing itself.
    said = [
        r.getMessage() for r in caplog.records if r.name == "pipeline.lib.observability.exporter"
    ]
    assert (
        f"exporter: the database sqlite {tmp_path / 'empty.db'} has no Doppel tables yet: "
        "run `doppel migrate`" in said
    )
    assert value(found, "doppel_exporter_read_ok", part="database") == 1
    assert value(found, "doppel_partitions_behind") == 26  # every day from 11-01 to 11-26
    assert value(found, "doppel_unsplash_ratelimit_remaining") is None
    fresh.dispose()


@pytest.mark.parametrize(
    ("newest", "expected"),
    [(date(2026, 11, 26), 0), (date(2026, 11, 20), 6), (None, 26), (date(2026, 11, 27), 0)],
)
def test_exporter_days_behind(newest: date | None, expected: int) -> None:
    assert days_behind(newest, date(2026, 11, 26), START) == expected
    assert days_behind(None, date(2026, 11, 26), date(2026, 12, 1)) == 0


def test_exporter_totals_keep_a_redone_days_old_rows_and_its_status_does_not(
    either_database: Database,
) -> None:
    """The exporter's totals keep the rows a redone day left from its old source; the day's
    status (counted per day in the same module) is the day's source only: its used photos,
    the photos it failed to store, and its look-alikes by outcome."""
    db, day = either_database, date(2026, 11, 25)
    tracked = datetime(2026, 11, 25, 6, tzinfo=UTC)
    db.claim_day(day, "samples")
    with db.session() as session:
        for rank, fields in enumerate(
            [
                {"status": "succeeded", "generator": "openai", "latency_s": 12.0, "cost_usd": 0.04},
                {"status": "failed", "generator": "openai"},
            ]
        ):
            photo = Photo(source="samples", source_id=f"s{rank}", day=day, rank=rank,
                          status="stored", download_tracked_at=tracked)  # fmt: skip
            session.add(photo)
            session.flush()
            session.add(LookAlike(photo_id=photo.id, **fields))
        session.add(Photo(source="samples", source_id="bad", day=day, rank=9, status="failed"))
    db.set_day_source(day, "folder")  # `doppel redo`: the old rows stay, no longer the day's
    with db.session() as session:
        photo = Photo(source="folder", source_id="f0", day=day, rank=0, status="stored",
                      download_tracked_at=tracked)  # fmt: skip
        session.add(photo)
        session.flush()
        session.add(
            LookAlike(photo_id=photo.id, status="succeeded", generator="patch-remix", latency_s=0.4)
        )

    found = samples(DoppelCollector(db, None, start_date=START))
    assert value(found, "doppel_photos_collected_total", source="samples") == 2
    assert value(found, "doppel_photos_collected_total", source="folder") == 1
    assert value(found, "doppel_photos_failed_total", source="samples") == 1
    assert value(found, "doppel_generations_total", generator="openai", status="failed") == 1
    assert value(found, "doppel_generations_total", generator="patch-remix", status="succeeded")
    assert value(found, "doppel_generation_spend_usd_total", generator="openai") == 0.04
    assert value(found, "doppel_generation_spend_usd_total", generator="patch-remix") == 0
    openai, remix = {"generator": "openai"}, {"generator": "patch-remix"}
    assert value(found, "doppel_generation_latency_seconds_count", **openai) == 1  # one timed
    assert value(found, "doppel_generation_latency_seconds_sum", **openai) == 12.0
    assert value(found, "doppel_generation_latency_seconds_bucket", le="10.0", **openai) == 0
    assert value(found, "doppel_generation_latency_seconds_bucket", le="20.0", **openai) == 1
    assert value(found, "doppel_generation_latency_seconds_bucket", le="0.5", **remix) == 1
    assert value(found, "doppel_generation_latency_seconds_bucket", le="0.25", **remix) == 0

    other = date(2026, 11, 26)
    db.claim_day(other, "folder")
    with db.session() as session:
        for rank, status in enumerate(["succeeded", "waiting", "refused"]):
            photo = Photo(source="folder", source_id=f"o{rank}", day=other, rank=rank,
                          status="stored", download_tracked_at=tracked)  # fmt: skip
            session.add(photo)
            session.flush()
            session.add(LookAlike(photo_id=photo.id, status=status, generator="patch-remix"))
        session.add(Photo(source="folder", source_id="o9", day=other, rank=9, status="failed"))
        session.add(Photo(source="folder", source_id="o8", day=other, rank=8, status="stored"))
        session.add(Photo(source="samples", source_id="o7", day=other, rank=7, status="failed"))

    assert day_status(db) == [
        {"day": "2026-11-25", "photos": 1, "photos_failed": 0, "generated_succeeded": 1,
         "generated_failed": 0, "generated_set_aside": 0},
        {"day": "2026-11-26", "photos": 3, "photos_failed": 1, "generated_succeeded": 1,
         "generated_failed": 2, "generated_set_aside": 0},
    ]  # fmt: skip
