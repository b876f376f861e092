"""Which migration a database is at, and whether that is the one this code needs.

Only `doppel migrate` (`Database.upgrade`, also run by `doppel run` and `make dev`) changes
the schema. Every other process reads the version and, when it is not this code's, says in
one line what to run (`schema_problem`).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

# Alembic is imported where it is used: it costs a process that only reads and writes rows
# (a `doppel gallery` build, say) half a second on 2 cores.
if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import ScriptDirectory
    from sqlalchemy import Connection

MIGRATIONS = Path(__file__).parent / "migrations"
# Dagster's own Postgres storage keeps its revision in `alembic_version`; ours must not
# collide with it when both live in one database.
VERSION_TABLE = "doppel_alembic_version"
# The name of the lock `doppel migrate` holds while it migrates (see `locks.py`).
MIGRATE_LOCK = "doppel migrate"


class SchemaNotCurrent(RuntimeError):
    """The database is not at this code's migration; the message says what to run."""


def alembic_config() -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


@cache
def _scripts() -> ScriptDirectory:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config())


def code_head() -> str:
    """The migration this code needs the database to be at."""
    head = _scripts().get_current_head()
    assert head is not None, "no migrations"
    return head


def database_revision(connection: Connection) -> str | None:
    """The migration the database is at; None when it has no Doppel tables yet."""
    from alembic.migration import MigrationContext

    context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
    return context.get_current_revision()


def schema_problem(revision: str | None, where: str) -> str | None:
    """What is wrong with a database at `revision` for this code, and what to run; None
    when it is at this code's migration."""
    head = code_head()
    if revision == head:
        return None
    if revision is None:
        return f"the database {where} has no Doppel tables yet: run `doppel migrate`"
    known = {script.revision for script in _scripts().walk_revisions()}
    if revision in known:
        return (
            f"the database {where} is at migration {revision}, this Doppel needs {head}: "
            "run `doppel migrate`"
        )
    return (
        f"the database {where} is at migration {revision}, which this Doppel does not know "
        f"(it needs {head}): a newer Doppel migrated it; run that version"
    )
