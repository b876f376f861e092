"""Database of record: SQLAlchemy models, migrations and the queries everything shares."""

from pipeline.lib.db.database import Database
from pipeline.lib.db.models import Base, BilledRequest, GeneratedImage, InspirationImage

__all__ = ["Base", "BilledRequest", "Database", "GeneratedImage", "InspirationImage"]
