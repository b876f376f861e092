"""Engine, sessions and migrations for the database of record (SQLite or PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from pipeline.lib.db.models import DaySource, Photo

MIGRATIONS = Path(__file__).parent / "migrations"
# Connections per process. A day's remote requests run in up to DOPPEL_GENERATION_CONCURRENCY
# threads (at most 64), each opening two short ledger sessions per request. SQLAlchemy's
# defaults (5 kept, 10 more) would close and reopen a connection per request past 5 threads
# (a new PostgreSQL backend each time), and make threads past 15 wait for one: the ledger
# must never queue requests behind the pool.
POOL_SIZE = 10
POOL_OVERFLOW = 70


def database_url_for(url: str) -> str:
    """Pin Postgres URLs to psycopg2, the driver dagster-postgres already installs.

    SQLAlchemy 2.1 maps a bare `postgresql://` to psycopg 3, which is not installed.
    """
    for bare in ("postgresql://", "postgres://"):
        if url.startswith(bare):
            return "postgresql+psycopg2://" + url[len(bare) :]
    return url


class Database:
    """One engine per process; sessions are short and per unit of work (thread-safe)."""

    def __init__(self, url: str):
        self.url = database_url_for(url)
        self.engine = _make_engine(self.url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    def upgrade(self) -> None:
        """Apply any pending Alembic migrations (safe to call on every start)."""
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        with self.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session that commits on success and rolls back on error."""
        with self._sessions() as session, session.begin():
            yield session

    def dispose(self) -> None:
        self.engine.dispose()

    # Queries shared by the pipeline, checks, CLI and gallery.

    def photos_of_day(self, day: date, source: str | None = None) -> list[Photo]:
        """The day's photo records from `source`, by default the day's own source (rows a
        day kept from a source it no longer uses are not the day's)."""
        source = source or self.day_source(day)
        with self._sessions() as session:
            query = select(Photo).where(Photo.day == day)
            if source is not None:
                query = query.where(Photo.source == source)
            return list(session.scalars(query.order_by(Photo.rank)).unique())

    def day_source(self, day: date) -> str | None:
        with self._sessions() as session:
            found = session.get(DaySource, day)
            return found.source if found else None

    def claim_day(self, day: date, source: str) -> str:
        """The day's source: the one already recorded, or `source`, recorded now."""
        try:
            with self.session() as session:
                found = session.get(DaySource, day)
                if found is not None:
                    return found.source
                session.add(DaySource(day=day, source=source))
        except IntegrityError:  # another run claimed it first
            return self.day_source(day) or source
        return source

    def set_day_source(self, day: date, source: str) -> str | None:
        """Hand the day to `source` (for a re-collection); returns the source it had."""
        with self.session() as session:
            found = session.get(DaySource, day)
            before = found.source if found else None
            if found is None:
                session.add(DaySource(day=day, source=source))
            else:
                found.source = source
        return before


def _make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = url.split(":///", 1)[-1]
        pool: dict[str, Any] = {}
        if path and path != ":memory:" and not url.endswith("sqlite://"):
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            pool = {"pool_size": POOL_SIZE, "max_overflow": POOL_OVERFLOW}  # in memory: one
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, **pool
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):  # type: ignore[no-untyped-def]
            # WAL lets the gallery and CLI read while a day is being written; foreign keys
            # are off by default in SQLite.
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=POOL_SIZE, max_overflow=POOL_OVERFLOW)
