"""A day end to end through Dagster: on SQLite + a local folder, and on PostgreSQL +
dagster-postgres + moto's S3 server over HTTP; then crashes, re-runs and bad photos."""

from __future__ import annotations

import json
import shutil
import uuid
from datetime import date
from pathlib import Path
from typing import Any

import boto3
import dagster as dg
import pytest
from sqlalchemy import func, select

from pipeline.defs.checks import CHECKS
from pipeline.defs.resources import build_resources
from pipeline.defs.resources.config import dumped
from pipeline.defs.resources.generators import PatchRemixResource
from pipeline.lib.core.images import decode_image
from pipeline.lib.core.storage import LocalObjectStore
from pipeline.lib.day.counts import day_status
from pipeline.lib.db import Database, LookAlike, Photo
from pipeline.lib.generators.patch_remix.settings import RemixSettings
from pipeline.lib.settings import DoppelSettings, load_settings
from pipeline.lib.sources.folder import SAMPLE_PHOTOS_DIR
from pipeline_tests.conftest import migrated
from pipeline_tests.fakes import CALLS, MirrorGeneratorResource
from pipeline_tests.fixtures.assets import generated_images, unsplash_images

DAY = "2026-11-20"
# Small working size keeps the real generator at a fraction of a second per photo.
SMALL_REMIX = PatchRemixResource(
    config=dumped(RemixSettings(work_size=64, output_size=96, max_attempts=1)), concurrency=2
)


def materialize_day(
    resources: dict[str, Any], instance: dg.DagsterInstance | None = None, **kwargs: Any
) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [unsplash_images, generated_images],
        partition_key=DAY,
        resources=resources,
        instance=instance,
        **kwargs,
    )


def checks_of(result: dg.ExecuteInProcessResult) -> dict[str, Any]:
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


def counts(db: Database) -> tuple[int, int]:
    with db.session() as session:
        photos = session.scalar(select(func.count()).select_from(Photo))
        generations = session.scalar(select(func.count()).select_from(LookAlike))
    return int(photos or 0), int(generations or 0)


@pytest.mark.slow
def test_day_on_sqlite_and_local_folder(local_settings: DoppelSettings) -> None:
    resources = build_resources(local_settings) | {"image_generator": SMALL_REMIX}
    with dg.instance_for_test() as instance:
        result = materialize_day(resources, instance)
        assert result.success
        assert DAY in instance.get_materialized_partitions(generated_images.key)

    db = Database(local_settings.resolved_database_url)
    [day] = day_status(db)
    assert day == {
        "day": DAY,
        "photos": 4,
        "photos_failed": 0,
        "generated_succeeded": 4,
        "generated_failed": 0,
        "generated_set_aside": 0,
    }
    checks = checks_of(result)  # each of the day's checks ran, and passed
    assert set(checks) == set(CHECKS)
    assert all(check.passed for check in checks.values())
    # One evaluation per day: what the UI shows under each check's Partitions tab.
    assert {check.partition for check in checks.values()} == {DAY}

    store = LocalObjectStore(local_settings.objects_dir)
    generated = [k for k in store.list("generated/") if k.endswith(".png")]
    assert len(generated) == 4 and all(k.startswith(f"generated/{DAY}/") for k in generated)
    for key in generated:
        assert max(decode_image(store.get(key)).size) == 96
    table = json.loads(store.get(f"tables/generated_images/{DAY}.json"))
    assert {row["status"] for row in table["rows"]} == {"succeeded"}
    assert all(row["comparisons"]["ssim"] < 0.95 for row in table["rows"])
    assert store.exists(f"tables/unsplash_images/{DAY}.json")


@pytest.mark.slow
def test_day_on_postgres_with_dagster_postgres_and_s3(
    make_postgres_database: Any, s3_server: str, s3_bucket: str, tmp_path: Path
) -> None:
    app_db, dagster_db = make_postgres_database(), make_postgres_database()
    settings = migrated(load_settings(
        _env_file=None,
        data_dir=tmp_path,
        database_url=app_db["url"],
        store="s3",
        s3_bucket=s3_bucket,
        s3_endpoint_url=s3_server,
    ))  # fmt: skip
    resources = build_resources(settings) | {"image_generator": SMALL_REMIX}
    storage = {
        "postgres": {
            "postgres_db": {
                "username": dagster_db["username"],
                "password": "",
                "hostname": dagster_db["hostname"],
                "port": int(dagster_db["port"]),
                "db_name": dagster_db["db_name"],
                "scheme": "postgresql+psycopg2",
            }
        }
    }
    with dg.instance_for_test(overrides={"storage": storage}) as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        result = materialize_day(resources, instance)
        assert result.success
        assert DAY in instance.get_materialized_partitions(generated_images.key)

    db = Database(settings.resolved_database_url)
    assert db.engine.dialect.name == "postgresql"
    [day] = day_status(db)
    assert (day["photos"], day["generated_succeeded"], day["generated_failed"]) == (4, 4, 0)
    db.dispose()

    s3 = boto3.client("s3", endpoint_url=s3_server, region_name="us-east-1")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=s3_bucket)["Contents"]]
    assert all(k.startswith("doppel/") for k in keys)
    pngs = [k for k in keys if k.startswith(f"doppel/generated/{DAY}/") and k.endswith(".png")]
    assert len(pngs) == 4
    head = s3.head_object(Bucket=s3_bucket, Key=pngs[0])
    assert head["ContentType"] == "image/png"
    table_key = f"doppel/tables/generated_images/{DAY}.json"
    assert s3.head_object(Bucket=s3_bucket, Key=table_key)["ContentType"] == "application/json"
    originals = [k for k in keys if k.startswith("doppel/originals/")]
    assert originals and all(
        s3.head_object(Bucket=s3_bucket, Key=k)["ContentType"] == "image/jpeg" for k in originals
    )


@pytest.mark.slow
def test_generator_failing_after_n_photos_then_rerun(local_settings: DoppelSettings) -> None:
    first, second, third = (f"mirror-{uuid.uuid4().hex}" for _ in range(3))
    resources = build_resources(local_settings)
    db = Database(local_settings.resolved_database_url)

    # Photos that fail wait for no time here, so the next run is theirs.
    failing = resources | {
        "image_generator": MirrorGeneratorResource(
            counter=first, fail_after=2, retry_wait_minutes=0
        )
    }
    result = materialize_day(failing, raise_on_error=False)
    # The day is made with what succeeded; its check fails while two photos wait.
    assert result.success
    assert not checks_of(result)["no_photo_waiting"].passed
    [day] = day_status(db)
    assert (day["generated_succeeded"], day["generated_failed"]) == (2, 2)
    # 4 calls and no step retry: a generation may be billed, so only a later run (the
    # gap-fill sensor's, within the per-photo cap) asks again, for the two that failed.
    assert CALLS[first] == 4
    with db.session() as session:
        paid_for = set(
            session.scalars(select(LookAlike.object_key).where(LookAlike.status == "succeeded"))
        )

    healthy = resources | {"image_generator": MirrorGeneratorResource(counter=second)}
    assert materialize_day(healthy).success
    assert CALLS[second] == 2  # only the two that failed
    assert counts(db) == (4, 4)  # no duplicate rows
    with db.session() as session:
        rows = session.scalars(select(LookAlike)).all()
        assert {r.status for r in rows} == {"succeeded"}
        assert paid_for <= {r.object_key for r in rows}
        assert sorted(r.attempts for r in rows) == [1, 1, 2, 2]
    store = LocalObjectStore(local_settings.objects_dir)
    assert len([k for k in store.list("generated/") if k.endswith(".png")]) == 4

    again = resources | {"image_generator": MirrorGeneratorResource(counter=third)}
    result = materialize_day(again)
    assert result.success and CALLS[third] == 0
    assert counts(db) == (4, 4)
    metadata = result.asset_materializations_for_node("generated_images")[0].metadata
    assert metadata["generator_calls_this_run"].value == 0


@pytest.mark.slow
def test_truncated_photo_is_recorded_and_reported(tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    entries = []
    for name in ("coffee", "rocket", "chelsea"):
        shutil.copy(SAMPLE_PHOTOS_DIR / f"{name}.jpg", folder / f"{name}.jpg")
        entries.append({"id": name, "file": f"{name}.jpg", "license": "CC0 1.0"})
    whole = (SAMPLE_PHOTOS_DIR / "astronaut.jpg").read_bytes()
    (folder / "broken.jpg").write_bytes(whole[: len(whole) // 3])
    entries.append({"id": "broken", "file": "broken.jpg"})
    (folder / "photos.json").write_text(json.dumps(entries))

    settings = migrated(
        load_settings(_env_file=None, data_dir=tmp_path / "data", source="folder", folder=folder)
    )
    counter = f"mirror-{uuid.uuid4().hex}"
    resources = build_resources(settings) | {
        "image_generator": MirrorGeneratorResource(counter=counter)
    }
    result = materialize_day(resources)
    assert result.success
    assert CALLS[counter] == 3

    db = Database(settings.resolved_database_url)
    photos = {p.source_id.split("/")[-1]: p for p in db.photos_of_day(date.fromisoformat(DAY))}
    assert photos["broken"].status == "failed"
    assert "truncated" in (photos["broken"].error or "").lower()
    assert all(photos[n].status == "stored" for n in ("coffee", "rocket", "chelsea"))

    checks = checks_of(result)
    assert checks["every_photo_accounted_for"].passed
    assert checks["stored_images_decode"].passed
    warning = checks["no_photo_waiting"]
    assert not warning.passed
    assert warning.severity == dg.AssetCheckSeverity.WARN  # failed for good: nothing waits
    failures = warning.metadata["failures"].value
    assert list(failures) == [f"{DAY}/broken"]


@pytest.mark.slow
def test_collection_is_not_repeated_once_a_day_is_stored(local_settings: DoppelSettings) -> None:
    counter = f"mirror-{uuid.uuid4().hex}"
    resources = build_resources(local_settings) | {
        "image_generator": MirrorGeneratorResource(counter=counter)
    }
    assert materialize_day(resources).success
    result = materialize_day(resources)
    metadata = result.asset_materializations_for_node("unsplash_images")[0].metadata
    assert metadata["reused_stored_day"].value is True
    assert metadata["fetched_this_run"].value == 0
