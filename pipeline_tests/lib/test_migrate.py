"""Migrations once: `doppel migrate` under the database's lock, however many processes run
it at once; everything else only checks the schema and says what to run."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from pipeline.cli import main
from pipeline.defs.resources.database import DatabaseResource
from pipeline.lib.db import Base, Database, SchemaNotCurrent, schema_problem_at
from pipeline.lib.db.locks import lock_file
from pipeline.lib.db.schema import MIGRATE_LOCK, VERSION_TABLE, alembic_config, code_head
from pipeline_tests.fixtures import racing

RUN_MIGRATE = "run `doppel migrate`"


def fresh_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'data' / 'doppel.db'}"
    return str(request.getfixturevalue("make_postgres_database")()["url"])


def versions(db: Database) -> list[str]:
    with db.engine.connect() as connection:
        return list(connection.scalars(text(f"select version_num from {VERSION_TABLE}")))


@pytest.mark.slow
@pytest.mark.parametrize(("backend", "processes"), [("sqlite", 2), ("postgresql", 4)])
def test_processes_migrating_a_fresh_database_at_once_all_succeed_and_leave_one_schema(
    backend: str, processes: int, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = fresh_url(backend, tmp_path, request)
    db = Database(url)
    context = racing.context()
    results = context.Queue()
    waiting = [context.Event() for _ in range(processes)]
    # The test holds the lock while they start: each must find it taken and wait, then they
    # all go at once when it is let go.
    with db.lock(MIGRATE_LOCK):
        children = [racing.start(racing.migrating, url, event, results) for event in waiting]
        for event in waiting:
            racing.wait_for_any([event], children, "every process waiting for the lock")
        assert all(event.is_set() for event in waiting)
        assert all(child.is_alive() for child in children)
    for child in children:
        child.join(racing.WAIT_S)
    reports = [results.get(timeout=5) for _ in children]
    assert [child.exitcode for child in children] == [0] * processes, reports
    said = sorted(line.removeprefix(f"database {db.where} ") for _, line in reports)
    assert said == [f"is up to date (migration {code_head()})"] * (processes - 1) + [
        f"migrated from empty to {code_head()}"
    ]
    assert versions(db) == [code_head()]  # one row: one schema, at this code's migration
    with db.engine.connect() as connection:
        migrations = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
        assert compare_metadata(migrations, Base.metadata) == []
    db.dispose()


def test_doppel_migrate_says_what_it_did_and_db_upgrade_is_the_same_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DOPPEL_DATA_DIR", str(tmp_path / "data"))
    assert main(["migrate"]) == 0
    where = f"sqlite {tmp_path / 'data' / 'doppel.db'}"
    assert capsys.readouterr().out == f"database {where} migrated from empty to {code_head()}\n"
    assert main(["db", "upgrade"]) == 0
    assert capsys.readouterr().out == f"database {where} is up to date (migration {code_head()})\n"
    # The lock is a file beside the database, kept (a new one would be a second lock).
    assert lock_file(tmp_path / "data" / "doppel.db", MIGRATE_LOCK).is_file()
    assert not (tmp_path / ".dagster_home").exists()  # migrating touches no Dagster instance


def test_a_database_behind_or_ahead_of_the_code_is_named_with_what_to_run(
    tmp_path: Path,
) -> None:
    db = Database(f"sqlite:///{tmp_path / 'doppel.db'}")
    where = f"sqlite {tmp_path / 'doppel.db'}"
    assert db.schema_problem() == f"the database {where} has no Doppel tables yet: {RUN_MIGRATE}"
    config = alembic_config()
    with db.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0002_billing_ledger")
    assert db.schema_problem() == (
        f"the database {where} is at migration 0002_billing_ledger, this Doppel needs "
        f"{code_head()}: {RUN_MIGRATE}"
    )
    with pytest.raises(SchemaNotCurrent, match="0002_billing_ledger"):
        db.require_current_schema()
    assert db.upgrade() == ("0002_billing_ledger", code_head())
    assert db.schema_problem() is None
    db.require_current_schema()
    with db.engine.begin() as connection:
        connection.execute(text(f"update {VERSION_TABLE} set version_num = '9999_from_later'"))
    problem = db.schema_problem() or ""
    assert "at migration 9999_from_later, which this Doppel does not know" in problem
    assert "a newer Doppel migrated it" in problem
    db.dispose()


def test_checking_at_start_creates_no_database_and_survives_one_that_is_down(
    tmp_path: Path,
) -> None:
    missing = tmp_path / "nowhere" / "doppel.db"
    assert schema_problem_at(f"sqlite:///{missing}") == (
        f"the database sqlite {missing} has no Doppel tables yet: {RUN_MIGRATE}"
    )
    assert not missing.parent.exists()
    down = schema_problem_at("postgresql://doppel:secret-pw@127.0.0.1:1/doppel") or ""
    assert down.startswith("cannot read the migration of the database ")
    assert "OperationalError" in down and "secret-pw" not in down and "\n" not in down


def test_a_run_checks_the_schema_and_never_migrates(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'doppel.db'}"

    @dg.asset
    def uses_the_database(database: DatabaseResource) -> None:
        database.get()

    result = dg.materialize(
        [uses_the_database], resources={"database": DatabaseResource(url=url)},
        raise_on_error=False,
    )  # fmt: skip
    assert not result.success
    [failure] = [e for e in result.all_events if e.event_type_value == "RESOURCE_INIT_FAILURE"]
    error = failure.event_specific_data.error  # type: ignore[union-attr]
    assert error.message.strip() == (
        f"pipeline.lib.db.schema.SchemaNotCurrent: the database sqlite {tmp_path / 'doppel.db'} "
        f"has no Doppel tables yet: {RUN_MIGRATE}"
    )
    assert inspect(Database(url).engine).get_table_names() == []  # nothing was migrated
    Database(url).upgrade()
    assert dg.materialize(
        [uses_the_database], resources={"database": DatabaseResource(url=url)}
    ).success


@pytest.mark.parametrize("backend", ["sqlite", "postgresql", "memory"])
def test_a_lock_is_held_by_one_holder_at_a_time(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = "sqlite://" if backend == "memory" else fresh_url(backend, tmp_path, request)
    db = Database(url)
    inside: list[str] = []
    entered, waiting, release = threading.Event(), threading.Event(), threading.Event()

    def hold(name: str) -> None:
        with db.lock("a day"):
            inside.append(name)
            entered.set()
            release.wait(racing.WAIT_S)
            inside.append(name)

    first = threading.Thread(target=hold, args=("first",))
    first.start()
    assert entered.wait(racing.WAIT_S)
    with racing.reporting_waits(waiting):
        second = threading.Thread(target=hold, args=("second",))
        second.start()
        assert waiting.wait(racing.WAIT_S)  # it found the lock taken
    other = threading.Thread(target=lambda: db.lock("another name").__enter__())
    other.start()
    other.join(racing.WAIT_S)  # another name is another lock: taken at once
    assert not other.is_alive() and inside == ["first"]
    release.set()
    first.join(racing.WAIT_S)
    second.join(racing.WAIT_S)
    assert inside == ["first", "first", "second", "second"]
    with pytest.raises(RuntimeError), db.lock("a day"):  # let go on an error too
        raise RuntimeError("boom")
    with db.lock("a day"):
        pass
    db.dispose()


def test_lock_names_become_readable_distinct_files_and_keys() -> None:
    from pipeline.lib.db.locks import advisory_key

    day = lock_file(Path("/data/doppel.db"), "collect 2026-11-20")
    assert day.parent == Path("/data/doppel.db.locks")
    assert day.name.startswith("collect-2026-11-20-") and day.suffix == ".lock"
    site = lock_file(Path("/data/doppel.db"), "publish s3://bucket/doppel/site/index.html")
    assert site.name.startswith("publish-s3-bucket-doppel-site-index.html-")
    names = ["doppel migrate", "collect 2026-11-20", "collect 2026-11-21"]
    keys: list[Any] = [advisory_key(n) for n in names]
    assert len(set(keys)) == 3 and all(-(2**63) <= k < 2**63 for k in keys)
    assert advisory_key("doppel migrate") == advisory_key("doppel migrate")
