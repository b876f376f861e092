"""The instance files as shipped: the deployed dagster.yaml on PostgreSQL, the local one on
SQLite. Both run a real materialization."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from pipeline.lib.instance import (
    FIRST_DAY_FILE,
    LOCAL_INSTANCE_YAML,
    ensure_local_instance,
    with_local_start,
)
from pipeline.lib.settings import DEFAULT_START_DATE, load_settings

REPO = Path(__file__).resolve().parents[1]


@dg.asset
def ping() -> int:
    return 1


def test_deployed_dagster_yaml_runs_on_postgres(
    make_postgres_database: Any,
    s3_server: str,
    s3_bucket: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    db = make_postgres_database()
    shutil.copy(REPO / "dagster.yaml", tmp_path / "dagster.yaml")
    for name, value in {
        "DAGSTER_PG_USER": db["username"],
        "DAGSTER_PG_PASSWORD": "",
        "DAGSTER_PG_HOST": db["hostname"],
        "DAGSTER_PG_DB": db["db_name"],
        "DAGSTER_PG_PORT": db["port"],
        "DAGSTER_COMPUTE_LOGS_BUCKET": s3_bucket,
        "DAGSTER_COMPUTE_LOGS_PREFIX": "dagster-logs",
        "AWS_ENDPOINT_URL_S3": s3_server,
    }.items():
        monkeypatch.setenv(name, value)
    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
        assert type(instance.compute_log_manager).__name__ == "S3ComputeLogManager"
        assert dg.materialize([ping], instance=instance).success
        assert len(instance.get_runs()) == 1


def test_local_instance_is_sqlite_and_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    home = ensure_local_instance()
    assert (home / "dagster.yaml").read_text() == LOCAL_INSTANCE_YAML.read_text()
    with dg.DagsterInstance.get() as instance:
        assert type(instance.run_storage).__name__ == "SqliteRunStorage"
        assert dg.materialize([ping], instance=instance).success
    with dg.DagsterInstance.get() as instance:
        assert len(instance.get_runs()) == 1  # persisted, not a temporary instance


def test_a_users_own_local_dagster_yaml_is_left_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    (tmp_path / "dagster.yaml").write_text("telemetry:\n  enabled: true\n")
    ensure_local_instance()
    assert (tmp_path / "dagster.yaml").read_text() == "telemetry:\n  enabled: true\n"


def test_a_new_local_instance_starts_at_the_first_day_it_makes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    home = ensure_local_instance()
    settings = load_settings(_env_file=None)

    def start(wanted: date) -> date:
        return with_local_start(settings, wanted).start_date

    assert start(date(2026, 11, 26)) == date(2026, 11, 26)  # `doppel run --days 3` on the 29th
    assert (home / FIRST_DAY_FILE).read_text() == "2026-11-26\n"
    # Later processes (dagster dev's code servers, the next day's run) keep it...
    assert start(date(2026, 11, 28)) == date(2026, 11, 26)
    assert start(date(2026, 12, 3)) == date(2026, 11, 26)
    # ...and an earlier day asked for moves it earlier: partitions are added, none hidden.
    assert start(date(2026, 11, 20)) == date(2026, 11, 20)
    assert start(date(2026, 11, 26)) == date(2026, 11, 20)


def test_an_explicit_start_date_or_a_deployed_instance_keeps_its_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "local"))
    local = ensure_local_instance()
    monkeypatch.setenv("DOPPEL_START_DATE", "2026-11-10")
    explicit = load_settings(_env_file=None)
    assert with_local_start(explicit, date(2026, 11, 26)).start_date == date(2026, 11, 10)
    assert not (local / FIRST_DAY_FILE).exists()

    monkeypatch.delenv("DOPPEL_START_DATE")
    deployed = tmp_path / "deployed"
    deployed.mkdir()
    shutil.copy(REPO / "dagster.yaml", deployed / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(deployed))
    settings = load_settings(_env_file=None)
    assert with_local_start(settings, date(2026, 11, 26)).start_date == DEFAULT_START_DATE
    assert not (deployed / FIRST_DAY_FILE).exists()
