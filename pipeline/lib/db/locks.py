"""Named locks shared by every process that opens one database: `named_lock(engine, name)`.

What several processes must not do at once (migrate, collect one day, publish the gallery)
takes the lock of that name for as long as it works:

- PostgreSQL: a session advisory lock (`pg_advisory_lock`) on a connection kept for it.
  Advisory locks belong to the database, so every process using it, on any host, shares them.
- SQLite file: an exclusive `flock` on a file in `<database>.locks/` beside the database.
- SQLite in memory: only this process sees the database, so a lock of this process.

A holder that dies (even by SIGKILL) lets go at once: the server ends its session, the kernel
closes its file. A waiter says once, in the log, what it waits for, then waits as long as it
takes: every holder finishes or dies.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import re
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.lib.db.urls import database_url_for, is_postgres, sqlite_file

if TYPE_CHECKING:  # SQLAlchemy only where an engine is used: a file lock needs none
    from sqlalchemy import Engine

log = logging.getLogger(__name__)

_IN_MEMORY: dict[tuple[int, str], threading.Lock] = {}
_IN_MEMORY_GUARD = threading.Lock()


@contextmanager
def named_lock(engine: Engine, name: str) -> Iterator[None]:
    """Hold the lock `name` of the database behind `engine` for the `with` block."""
    if engine.dialect.name == "postgresql":
        with _advisory_lock(engine, name):
            yield
        return
    database = engine.url.database
    if database and database != ":memory:":
        with _file_lock(lock_file(Path(database), name), name):
            yield
        return
    with _process_lock(id(engine), name):
        yield


class UrlLocks:
    """The named locks of the database at `url`, for a process that needs nothing else of
    the database (`doppel gallery`): the same locks as `named_lock`'s, but a SQLite file's
    are taken without SQLAlchemy, and PostgreSQL's engine is made only when a lock is."""

    def __init__(self, url: str):
        self.url = database_url_for(url)
        self._engine: Engine | None = None

    def lock(self, name: str) -> AbstractContextManager[None]:
        database = sqlite_file(self.url)
        if database is not None:
            return _file_lock(lock_file(Path(database), name), name)
        if not is_postgres(self.url):
            return _process_lock(id(self), name)  # SQLite in memory: this process's alone
        if self._engine is None:
            # No pool: the one connection is the lock's, closed when it is released.
            from sqlalchemy import create_engine
            from sqlalchemy.pool import NullPool

            self._engine = create_engine(self.url, poolclass=NullPool)
        return named_lock(self._engine, name)

    def dispose(self) -> None:
        if self._engine is not None:
            self._engine.dispose()


def lock_file(database: Path, name: str) -> Path:
    """The file whose `flock` is the lock `name` of the SQLite database at `database`."""
    readable = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-")[:48]
    digest = hashlib.sha256(name.encode()).hexdigest()[:12]
    return database.parent / f"{database.name}.locks" / f"{readable}-{digest}.lock"


def advisory_key(name: str) -> int:
    """The lock's PostgreSQL key: 64 bits of its name's hash, as a signed bigint."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


def _waiting(name: str) -> None:
    log.info("waiting for lock %r: another process holds it", name)


@contextmanager
def _advisory_lock(engine: Engine, name: str) -> Iterator[None]:
    from sqlalchemy import text  # here: only PostgreSQL's locks run SQL

    key = advisory_key(name)
    # Autocommit: the lock belongs to the session, and no transaction stays open while held.
    with engine.connect() as connection:
        connection = connection.execution_options(isolation_level="AUTOCOMMIT")
        if not connection.scalar(text("select pg_try_advisory_lock(:key)"), {"key": key}):
            _waiting(name)
            connection.execute(text("select pg_advisory_lock(:key)"), {"key": key})
        try:
            yield
        finally:
            try:
                connection.execute(text("select pg_advisory_unlock(:key)"), {"key": key})
            except Exception as exc:  # the session is gone, and the lock with it
                log.warning("lock %r: could not release it (%s): its session ended", name, exc)
                connection.invalidate()


@contextmanager
def _file_lock(path: Path, name: str) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    # Lock files are never deleted: a waiter may hold the old file open, and a new file of
    # the same name would be a second, separate lock.
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            _waiting(name)
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the flock


@contextmanager
def _process_lock(owner: int, name: str) -> Iterator[None]:
    with _IN_MEMORY_GUARD:
        lock = _IN_MEMORY.setdefault((owner, name), threading.Lock())
    if not lock.acquire(blocking=False):
        _waiting(name)
        lock.acquire()
    try:
        yield
    finally:
        lock.release()
