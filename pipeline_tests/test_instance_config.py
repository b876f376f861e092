"""The instance files as shipped: the deployed dagster.yaml on PostgreSQL, the local one on
SQLite. Both run a real materialization."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from pipeline.lib.instance import LOCAL_INSTANCE_YAML, ensure_local_instance

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
