"""Alembic migrations: empty database to head, twice, from several nodes at once; they match models.py."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, make_url

from chatserver.store import open_engine, upgrade
from chatserver.store.migrate import alembic_config
from chatserver.store.models import metadata

TABLES = {"accounts", "tokens", "messages", "offline_queue"}


@pytest.fixture
def engine(url):
    engine = open_engine(url)
    yield engine
    engine.dispose()


def revision(engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head() -> str:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def test_upgrade_creates_the_tables(engine):
    assert set(inspect(engine).get_table_names()) == set()
    upgrade(engine)
    assert set(inspect(engine).get_table_names()) == TABLES | {"alembic_version"}
    assert revision(engine) == head() == "0001"


def test_upgrading_again_changes_nothing(engine):
    upgrade(engine)
    with engine.begin() as connection:
        connection.execute(metadata.tables["accounts"].insert(),
                           {"id": "alice", "alias": "Alice", "password_hash": "h", "created_ms": 1})
    upgrade(engine)
    assert revision(engine) == head()
    with engine.connect() as connection:
        assert connection.execute(metadata.tables["accounts"].select()).all() == [("alice", "Alice", "h", 1)]


def test_the_migrations_end_where_the_models_are(engine):
    upgrade(engine)
    with engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), metadata) == []


def test_nodes_starting_at_once_migrate_once(url):
    # Four nodes, each with its own engine, on one empty database (for SQLite, a file switched to
    # WAL by a first connection: two processes creating one file at once is beyond SQLite).
    if url.startswith("postgresql"):
        # Without the migration lock these threads fail, or deadlock (PostgreSQL's table locks
        # against Python's import locks in Alembic): make that a failure too, not a hang.
        url = make_url(url).update_query_dict({"options": "-c lock_timeout=20s"})
    engines = [open_engine(url) for _ in range(4)]
    try:
        engines[0].connect().close()
        with ThreadPoolExecutor(len(engines)) as pool:
            list(pool.map(upgrade, engines))  # raises what any of them raised
        assert revision(engines[0]) == head()
    finally:
        for each in engines:
            each.dispose()
