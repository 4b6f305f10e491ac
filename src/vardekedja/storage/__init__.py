"""What every SQL store of ours shares, below the views, the audit chain and the HTTP layer alike.

``engines`` builds SQLAlchemy engines for SQLite files and PostgreSQL from the
settings; ``types`` holds the column types stored the same way everywhere.
"""

from vardekedja.storage.engines import postgres_engine, sqlite_engine
from vardekedja.storage.types import UtcDateTime

__all__ = ["UtcDateTime", "postgres_engine", "sqlite_engine"]
