"""The database shell: SQLAlchemy 2 models and Alembic migrations.

SQLite by default (a file in ``data_dir``); PostgreSQL through
``L2GPU_DATABASE_URL=postgresql+psycopg://...``. :func:`open_database` brings the
schema to the newest migration before returning an engine.
"""

from l2gpu.db.engine import DatabaseError, open_database

__all__ = ["DatabaseError", "open_database"]
