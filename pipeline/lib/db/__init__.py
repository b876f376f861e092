"""Database of record: SQLAlchemy models, migrations and the queries everything shares."""

from pipeline.lib.db.database import Database
from pipeline.lib.db.models import (
    Base,
    BilledRequest,
    DaySource,
    LookAlike,
    Outcome,
    Photo,
    photo_is_used,
)

__all__ = [
    "Base",
    "BilledRequest",
    "Database",
    "DaySource",
    "LookAlike",
    "Outcome",
    "Photo",
    "photo_is_used",
]
