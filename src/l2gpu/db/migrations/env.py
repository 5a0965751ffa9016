"""Alembic environment: runs migrations on the connection that open_database passes in."""

from __future__ import annotations

from alembic import context

from l2gpu.db.models import Base

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata)
with context.begin_transaction():
    context.run_migrations()
