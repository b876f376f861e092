"""The instance files as shipped: the deployed dagster.yaml on PostgreSQL (also with the run
launcher of one container per run), the local one on SQLite. Both run a real materialization."""

from __future__ import annotations

import os
import shutil
from datetime import UTC, date, datetime
from itertools import pairwise
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import yaml
from sqlalchemy import create_engine, text

from pipeline.lib.core import clock
from pipeline.lib.orchestration.docker_runs import EnvForwardingDockerRunLauncher, forwarded_names
from pipeline.lib.orchestration.instance import (
    FIRST_DAY_FILE,
    LOCAL_INSTANCE_YAML,
    ensure_local_instance,
    record_local_start,
    with_local_start,
)
from pipeline.lib.settings import DEFAULT_START_DATE, load_settings

REPO = Path(__file__).resolve().parents[1]


@dg.asset
def ping() -> int:
    return 1


@pytest.fixture
def deployed_env(
    make_postgres_database: Any, s3_server: str, s3_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What compose gives every Dagster container, pointed at a throwaway database and bucket."""
    db = make_postgres_database()
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


@pytest.mark.slow
def test_deployed_dagster_yaml_runs_on_postgres(deployed_env: None, tmp_path: Path) -> None:
    shutil.copy(REPO / "dagster.yaml", tmp_path / "dagster.yaml")
    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
        assert type(instance.compute_log_manager).__name__ == "S3ComputeLogManager"
        assert dg.materialize([ping], instance=instance).success
        assert len(instance.get_runs()) == 1
        # Pool slots of a run whose worker died are freed (else its retry waits for ever).
        assert instance.run_monitoring_settings["free_slots_after_run_end_seconds"] > 0


def webserver_pool_flags() -> tuple[int, int, int]:
    """The storage pool the compose webserver gets from its command (Dagster's defaults for
    what it does not set): statement timeout, pool recycle, max overflow."""
    from dagster_webserver import cli

    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    command = compose["services"]["webserver"]["command"]
    given = {flag: int(value) for flag, value in pairwise(command) if flag.startswith("--db-")}
    return (
        given.get("--db-statement-timeout", cli.DEFAULT_DB_STATEMENT_TIMEOUT),
        given.get("--db-pool-recycle", cli.DEFAULT_POOL_RECYCLE),
        given.get("--db-pool-max-overflow", cli.DEFAULT_POOL_MAX_OVERFLOW),
    )


@pytest.mark.slow
def test_the_webserver_storage_survives_postgresql_dropping_its_connections(
    deployed_env: None, postgres_server: str, tmp_path: Path
) -> None:
    """A PostgreSQL restart drops every connection; the webserver (the one Dagster process
    that pools its storage connections) must not answer the next request with an
    OperationalError, as the first backfill launched after a restart did."""
    shutil.copy(REPO / "dagster.yaml", tmp_path / "dagster.yaml")
    admin = create_engine(postgres_server, isolation_level="AUTOCOMMIT")
    try:
        with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
            instance.optimize_for_webserver(*webserver_pool_flags())  # as dagster-webserver
            assert instance.get_runs() == []  # its pooled connection is open now
            with admin.connect() as conn:
                dropped = conn.execute(
                    text(
                        "select pg_terminate_backend(pid) from pg_stat_activity "
                        "where datname = :name and pid <> pg_backend_pid()"
                    ),
                    {"name": os.environ["DAGSTER_PG_DB"]},
                ).all()
            assert dropped  # a restart's effect on the pool, without restarting the server
            assert instance.get_runs() == []  # no OperationalError
    finally:
        admin.dispose()


@pytest.mark.slow
def test_docker_runs_instance_gives_each_run_container_doppels_environment(
    deployed_env: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The instance of docker-compose.docker-runs.yml, assembled as the Dockerfile does: the
    same storage, plus a launcher whose run containers join the stack's network, go away when
    they exit, and get every Doppel setting the daemon has (the optional ones too), but not
    the .env's MinIO root password."""
    dockerfile = (REPO / "Dockerfile").read_text()
    assert "cat /opt/dagster/home/dagster.yaml /opt/dagster/run-launcher.yaml" in dockerfile
    launcher_yaml = REPO / "deploy/docker-runs/run-launcher.yaml"
    (tmp_path / "dagster.yaml").write_text(
        (REPO / "dagster.yaml").read_text() + launcher_yaml.read_text()
    )
    monkeypatch.setenv("DOPPEL_RUN_NETWORK", "doppel_default")
    monkeypatch.setenv("DOPPEL_PHOTOS_PER_DAY", "3")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("MINIO_ROOT_PASSWORD", "root-only")
    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        launcher = instance.run_launcher
        assert isinstance(launcher, EnvForwardingDockerRunLauncher)
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        assert dg.materialize([ping], instance=instance).success  # in process, as a run worker
        context = launcher.get_container_context(instance.get_runs()[0])
    assert context.networks == ["doppel_default"]
    assert context.container_kwargs == {"auto_remove": True}
    # What the launcher hands the engine; it raises on a name that is not set.
    env = dict(env_entry(entry) for entry in context.env_vars)
    assert env["DOPPEL_PHOTOS_PER_DAY"] == "3" and env["OPENAI_API_KEY"] == "sk-test"
    assert env["DOPPEL_RUN_NETWORK"] == "doppel_default"  # the run's own instance reads it
    assert {"DAGSTER_PG_HOST", "DAGSTER_COMPUTE_LOGS_BUCKET", "AWS_ENDPOINT_URL_S3"} <= set(env)
    assert "MINIO_ROOT_PASSWORD" not in env
    assert len(context.env_vars) == len(env)  # each name once


def test_forwarded_names_are_doppels_own() -> None:
    environ = {
        "DOPPEL_GENERATOR": "openai",
        "UNSPLASH_ACCESS_KEY": "k",
        "AWS_REGION": "us-east-1",
        "DAGSTER_PG_PASSWORD": "p",
        "DAGSTER_HOME": "/opt/dagster/home-docker-runs",  # the run's image has its own
        "GRAFANA_ADMIN_PASSWORD": "g",
        "PATH": "/usr/bin",
    }
    assert forwarded_names(environ) == [
        "AWS_REGION", "DAGSTER_PG_PASSWORD", "DOPPEL_GENERATOR", "UNSPLASH_ACCESS_KEY",
    ]  # fmt: skip


@pytest.mark.slow
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
    with clock.pinned(datetime(2026, 11, 29, 9, tzinfo=UTC)):
        home = ensure_local_instance()  # `doppel dev`, `doppel run`... on the 29th
    assert (home / FIRST_DAY_FILE).read_text() == "2026-11-28\n"  # yesterday
    settings = load_settings(_env_file=None)

    def run(wanted: date) -> date:
        """`doppel run` asks for `wanted`, then loads the definitions' start."""
        record_local_start(settings, wanted)
        return with_local_start(settings, wanted).start_date

    assert run(date(2026, 11, 26)) == date(2026, 11, 26)  # `doppel run --days 3`
    assert (home / FIRST_DAY_FILE).read_text() == "2026-11-26\n"
    # Later processes (dagster dev's code servers, the next day's run) keep it...
    assert with_local_start(settings, date(2026, 12, 3)).start_date == date(2026, 11, 26)
    assert run(date(2026, 11, 28)) == date(2026, 11, 26)
    # ...and an earlier day asked for moves it earlier: partitions are added, none hidden.
    assert run(date(2026, 11, 20)) == date(2026, 11, 20)
    assert run(date(2026, 11, 26)) == date(2026, 11, 20)
    # Reading the start writes nothing, even where no first day is recorded yet.
    (home / FIRST_DAY_FILE).unlink()
    assert with_local_start(settings, date(2026, 12, 1)).start_date == date(2026, 12, 1)
    assert not (home / FIRST_DAY_FILE).exists()


def test_an_explicit_start_date_or_a_deployed_instance_keeps_its_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "local"))
    local = ensure_local_instance()
    recorded = (local / FIRST_DAY_FILE).read_text()
    monkeypatch.setenv("DOPPEL_START_DATE", "2026-11-10")
    explicit = load_settings(_env_file=None)
    record_local_start(explicit, date(2026, 11, 1))
    assert with_local_start(explicit, date(2026, 11, 26)).start_date == date(2026, 11, 10)
    assert (local / FIRST_DAY_FILE).read_text() == recorded  # not moved to 11-01

    monkeypatch.delenv("DOPPEL_START_DATE")
    deployed = tmp_path / "deployed"
    deployed.mkdir()
    shutil.copy(REPO / "dagster.yaml", deployed / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(deployed))
    settings = load_settings(_env_file=None)
    record_local_start(settings, date(2026, 11, 1))
    assert with_local_start(settings, date(2026, 11, 26)).start_date == DEFAULT_START_DATE
    assert not (deployed / FIRST_DAY_FILE).exists()


def env_entry(entry: str) -> tuple[str, str]:
    """A launcher env entry as Docker gets it: NAME=value, or NAME taken from this process."""
    name, sep, value = entry.partition("=")
    return (name, value) if sep else (name, os.environ[name])
