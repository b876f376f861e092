import dagster as dg
from pydantic import PrivateAttr

from pipeline.lib.db import Database


class DatabaseResource(dg.ConfigurableResource):
    """The database of record; migrations are applied when a run first opens it."""

    url: str

    _db: Database | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        self._db = Database(self.url)
        self._db.upgrade()

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._db is not None:
            self._db.dispose()

    def get(self) -> Database:
        if self._db is None:  # used outside a run (sensors, tests)
            self._db = Database(self.url)
            self._db.upgrade()
        return self._db
