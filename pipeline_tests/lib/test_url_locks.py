"""The database's locks taken from its URL alone (`UrlLocks`, what `doppel gallery` holds):
the very locks a `Database` takes, and a SQLite URL read as SQLAlchemy reads it."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import make_url

from pipeline.lib.db import Database
from pipeline.lib.db.locks import UrlLocks
from pipeline.lib.db.urls import sqlite_file
from pipeline_tests.fixtures import racing


@pytest.mark.parametrize(
    "url",
    [
        "sqlite:///data/doppel.db",
        "sqlite:////abs/path/doppel.db",
        "sqlite+pysqlite:///rel.db?timeout=5",
        "sqlite://",
        "sqlite:///:memory:",
        "postgresql+psycopg2://u@h/db",
    ],
)
def test_a_sqlite_file_is_read_from_its_url_as_sqlalchemy_reads_it(url: str) -> None:
    parsed = make_url(url)
    expected = parsed.database if parsed.get_backend_name() == "sqlite" else None
    assert sqlite_file(url) == (None if expected in (None, "", ":memory:") else expected)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_url_locks_are_the_databases_own(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'doppel.db'}"
    else:
        url = str(request.getfixturevalue("make_postgres_database")()["url"])
    db, locks = Database(url), UrlLocks(url)
    entered, waiting = threading.Event(), threading.Event()

    def take() -> None:
        with locks.lock("publish site"):
            entered.set()

    try:
        with db.lock("publish site"), racing.reporting_waits(waiting):
            taker = threading.Thread(target=take)
            taker.start()
            assert waiting.wait(racing.WAIT_S)  # it found the Database's lock taken
            assert not entered.is_set()
        taker.join(racing.WAIT_S)
        assert entered.is_set()  # ...and took it once let go
        with locks.lock("publish site"), locks.lock("another name"):
            pass
    finally:
        locks.dispose()
        db.dispose()
