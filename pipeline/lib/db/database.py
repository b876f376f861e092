"""Engine, sessions, migrations and locks for the database of record (SQLite or PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, make_url, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from pipeline.lib.db.locks import named_lock
from pipeline.lib.db.models import DaySource, Photo
from pipeline.lib.db.schema import (
    MIGRATE_LOCK,
    SchemaNotCurrent,
    alembic_config,
    code_head,
    database_revision,
    schema_problem,
)
from pipeline.lib.db.urls import database_url_for as database_url_for  # re-exported

# Connections per process. A day's remote requests run in up to DOPPEL_GENERATION_CONCURRENCY
# threads (at most 64), each opening two short ledger sessions per request. SQLAlchemy's
# defaults (5 kept, 10 more) would close and reopen a connection per request past 5 threads
# (a new PostgreSQL backend each time), and make threads past 15 wait for one: the ledger
# must never queue requests behind the pool.
POOL_SIZE = 10
POOL_OVERFLOW = 70


class Database:
    """One engine per process; sessions are short and per unit of work (thread-safe)."""

    def __init__(self, url: str):
        self.url = database_url_for(url)
        self.engine = _make_engine(self.url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def where(self) -> str:
        """The database as logs and messages may show it (no password)."""
        return shown(self.url)

    def upgrade(self) -> tuple[str | None, str | None]:
        """Apply pending migrations under the database's migrate lock: any number of
        processes at once leave one schema. Idempotent. Returns the migration the database
        was at and the one it is at now (None: no Doppel tables)."""
        from alembic import command  # only here: see `schema.py`

        config = alembic_config()
        with self.lock(MIGRATE_LOCK), self.engine.begin() as connection:
            before = database_revision(connection)
            if before != code_head():
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
            return before, database_revision(connection)

    def schema_problem(self) -> str | None:
        """Why this code cannot use the database as it is, and what to run; None if it can."""
        with self.engine.connect() as connection:
            return schema_problem(database_revision(connection), self.where)

    def require_current_schema(self) -> None:
        """Raise SchemaNotCurrent (one line saying what to run) unless the database is at
        this code's migration. Processes that only use the database call this, not
        `upgrade`."""
        if problem := self.schema_problem():
            raise SchemaNotCurrent(problem)

    def lock(self, name: str) -> AbstractContextManager[None]:
        """The lock `name`, shared by every process using this database (`locks.py`)."""
        return named_lock(self.engine, name)

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


def shown(url: str) -> str:
    """A database URL as messages show it: a SQLite file by its path, a server without
    its password."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return f"sqlite {parsed.database or '(in memory)'}"
    return parsed.render_as_string(hide_password=True)


def migrate(url: str) -> str:
    """`doppel migrate`: apply pending migrations under the lock; one line saying what it did."""
    db = Database(url)
    try:
        before, after = db.upgrade()
    finally:
        db.dispose()
    if before == after:
        return f"database {db.where} is up to date (migration {after})"
    return f"database {db.where} migrated from {before or 'empty'} to {after}"


def schema_problem_at(url: str) -> str | None:
    """`Database.schema_problem` for a process that only checks once, at start, and goes on
    either way: a SQLite file that is not there is not made, and a database that cannot be
    read is said to be so."""
    parsed = make_url(database_url_for(url))
    file = parsed.database if parsed.get_backend_name() == "sqlite" else None
    if file and file != ":memory:" and not Path(file).is_file():
        return schema_problem(None, shown(url))
    db = Database(url)
    try:
        return db.schema_problem()
    except Exception as exc:  # down, refused, not a database: the check says so and moves on
        reason = f"{type(exc).__name__}: {' '.join(str(exc).split())[:200]}"
        return f"cannot read the migration of the database {db.where}: {reason}"
    finally:
        db.dispose()


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
