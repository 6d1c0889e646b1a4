"""Schema migrations: Alembic, run from code with the revisions shipped in ``migrations/``.

No alembic.ini: the configuration is built here. To write the next revision, add a file to
``migrations/versions/`` (``script.py.mako`` is its template) whose ``down_revision`` is the
newest one; tests/store checks that the revisions end where ``models.py`` is.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, func, select

from .sql import for_writing

MIGRATIONS = Path(__file__).resolve().with_name("migrations")
# The key of the PostgreSQL advisory lock that lets one node at a time migrate ("chatsrvr").
MIGRATION_LOCK = 0x6368617473727672


def alembic_config(connection: Connection | None = None) -> Config:
    """The Alembic configuration of the shipped revisions; env.py migrates ``connection``."""
    config = Config()
    # The option is read through configparser: a "%" in the path must be doubled.
    config.set_main_option("script_location", str(MIGRATIONS).replace("%", "%%"))
    config.attributes["connection"] = connection
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the database to ``revision``, in one transaction; safe when several nodes start at once."""
    # SQLite: BEGIN IMMEDIATE makes a second process wait for the first (busy timeout).
    with for_writing(engine).begin() as connection:
        if connection.dialect.name == "postgresql":
            # Held until this transaction ends: the others wait here, then find nothing to do.
            connection.execute(select(func.pg_advisory_xact_lock(MIGRATION_LOCK)))
        command.upgrade(alembic_config(connection), revision)
