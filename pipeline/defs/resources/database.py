import dagster as dg
from pydantic import PrivateAttr

from pipeline.lib.db import Database


class DatabaseResource(dg.ConfigurableResource):
    """The database of record. A run only checks that it is migrated (`doppel migrate`, or
    `doppel run` and `make dev`, which migrate first) and stops with one line saying what
    to run if not: migrations are applied by one process under a lock, never by each run."""

    url: str

    _db: Database | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        self._db = _opened(self.url)

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._db is not None:
            self._db.dispose()

    def get(self) -> Database:
        if self._db is None:  # used outside a run (tests)
            self._db = _opened(self.url)
        return self._db


def _opened(url: str) -> Database:
    db = Database(url)
    try:
        db.require_current_schema()
    except Exception:
        db.dispose()
        raise
    return db
