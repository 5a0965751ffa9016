"""Open a database by URL and migrate it to the newest schema with Alembic."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import ArgumentError, OperationalError

from l2gpu.core.errors import L2gpuError

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


class DatabaseError(L2gpuError):
    """The database URL is malformed or the database cannot be reached."""


def open_database(url: str, *, schema: str | None = None) -> Engine:
    """An engine for ``url`` whose schema is migrated to the newest version.

    ``schema`` (PostgreSQL only) puts every table in that schema, which tests use to
    isolate themselves on one shared server.
    """
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    try:
        engine = create_engine(url, future=True, pool_pre_ping=True)
    except (ArgumentError, ValueError) as exc:
        raise DatabaseError(
            f"invalid database URL '{url}'",
            "use sqlite:///path/to/file.db or postgresql://user@host:5432/dbname",
        ) from exc
    if engine.dialect.name == "sqlite":
        _sqlite_pragmas(engine)
        _ensure_sqlite_folder(url)
    if schema is not None:
        _use_schema(engine, schema)
    try:
        migrate(engine)
    except OperationalError as exc:
        raise DatabaseError(
            f"cannot open the database at {engine.url.render_as_string(hide_password=True)}: "
            f"{exc.orig}",
            "check that the server runs and the URL is right",
        ) from exc
    return engine


def migrate(engine: Engine) -> None:
    """Run every Alembic migration not yet applied."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def _sqlite_pragmas(engine: Engine) -> None:
    # WAL lets a reader (the watcher) read while a writer (the payee) writes;
    # a busy timeout waits for a lock instead of failing at once. Transactions
    # begin IMMEDIATE (SQLAlchemy's documented recipe: the driver's own BEGIN is
    # turned off), so read-then-write transactions serialize instead of failing.
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=5000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection) -> None:  # type: ignore[no-untyped-def]
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def _ensure_sqlite_folder(url: str) -> None:
    path = url.removeprefix("sqlite:///")
    if path and path != url and not path.startswith(":memory:"):
        Path(path).parent.mkdir(parents=True, exist_ok=True)


def _use_schema(engine: Engine, schema: str) -> None:
    if not schema.isidentifier():
        raise DatabaseError(f"invalid schema name '{schema}'", "use letters, digits and _")

    # Registered before the first connection, so every pooled connection gets it.
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        cursor = dbapi_connection.cursor()
        cursor.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        cursor.execute(f'SET search_path TO "{schema}"')
        cursor.close()
        dbapi_connection.commit()
