"""Database of record: SQLAlchemy models, migrations and the queries everything shares."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pipeline.lib.db.database import Database, migrate, schema_problem_at
    from pipeline.lib.db.models import (
        Base,
        BilledRequest,
        DaySource,
        LookAlike,
        Outcome,
        Photo,
        PhotoClaim,
        Vote,
        photo_is_used,
    )
    from pipeline.lib.db.schema import SchemaNotCurrent

__all__ = [
    "Base",
    "BilledRequest",
    "Database",
    "DaySource",
    "LookAlike",
    "Outcome",
    "Photo",
    "PhotoClaim",
    "SchemaNotCurrent",
    "Vote",
    "migrate",
    "photo_is_used",
    "schema_problem_at",
]
_HOME = {"Database": "database", "migrate": "database", "schema_problem_at": "database"}
_HOME |= {"SchemaNotCurrent": "schema"}


def __getattr__(name: str) -> Any:
    # Lazy, so that the light modules here (`urls`, `locks`) cost a process that only reads
    # a URL or takes a lock no SQLAlchemy import (`doppel gallery`).
    if name in __all__:
        from importlib import import_module

        return getattr(import_module(f"pipeline.lib.db.{_HOME.get(name, 'models')}"), name)
    raise AttributeError(name)
