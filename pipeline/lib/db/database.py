"""Engine, sessions and migrations for the database of record (SQLite or PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, func, select
from sqlalchemy.orm import Session, sessionmaker

from pipeline.lib.db.models import GeneratedImage, InspirationImage
from pipeline.lib.settings import database_url_for

MIGRATIONS = Path(__file__).parent / "migrations"


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

    def day_inspirations(self, day: date, source: str | None = None) -> list[InspirationImage]:
        with self._sessions() as session:
            query = select(InspirationImage).where(InspirationImage.day == day)
            if source is not None:
                query = query.where(InspirationImage.source == source)
            return list(session.scalars(query.order_by(InspirationImage.rank)).unique())

    def status_by_day(self) -> list[dict[str, Any]]:
        """Per day: photos stored, look-alikes succeeded, and failures of either kind."""
        with self._sessions() as session:
            photos = dict(
                session.execute(
                    select(InspirationImage.day, func.count())
                    .where(InspirationImage.status == "stored")
                    .group_by(InspirationImage.day)
                ).all()
            )
            generated: dict[date, dict[str, int]] = {}
            rows = session.execute(
                select(InspirationImage.day, GeneratedImage.status, func.count())
                .join(GeneratedImage.inspiration)
                .group_by(InspirationImage.day, GeneratedImage.status)
            ).all()
            for day, status, count in rows:
                generated.setdefault(day, {})[status] = count
            failed_photos = dict(
                session.execute(
                    select(InspirationImage.day, func.count())
                    .where(InspirationImage.status == "failed")
                    .group_by(InspirationImage.day)
                ).all()
            )
        days = sorted(set(photos) | set(generated) | set(failed_photos))
        return [
            {
                "day": day.isoformat(),
                "photos": photos.get(day, 0),
                "photos_failed": failed_photos.get(day, 0),
                "generated_succeeded": generated.get(day, {}).get("succeeded", 0),
                "generated_failed": sum(
                    n for status, n in generated.get(day, {}).items() if status != "succeeded"
                ),
            }
            for day in days
        ]


def _make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = url.split(":///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):  # type: ignore[no-untyped-def]
            # WAL lets the gallery and CLI read while a day is being written; foreign keys
            # are off by default in SQLite.
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True)
