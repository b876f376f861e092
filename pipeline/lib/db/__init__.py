"""Database of record: SQLAlchemy models, migrations and the queries everything shares."""

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
