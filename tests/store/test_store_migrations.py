"""Alembic migrations: from empty, twice, by several nodes at once, from 0001 with data; they end at models.py."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, make_url, select
from store_support import message

from chatserver.store import MESSAGE_FIELDS, open_engine, upgrade
from chatserver.store.migrate import alembic_config
from chatserver.store.models import metadata

TABLES = {"accounts", "tokens", "messages", "offline_queue", "rooms", "room_members", "room_invites", "read_marks",
          "dm_conversations"}


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
    assert revision(engine) == head() == "0004"


def test_upgrading_again_changes_nothing(engine):
    upgrade(engine)
    with engine.begin() as connection:
        connection.execute(metadata.tables["accounts"].insert(),
                           {"id": "alice", "alias": "Alice", "password_hash": "h", "created_ms": 1})
    upgrade(engine)
    assert revision(engine) == head()
    with engine.connect() as connection:
        assert connection.execute(metadata.tables["accounts"].select()).all() == [("alice", "Alice", "h", 1, None)]


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


def test_upgrading_from_0001_keeps_the_data_and_lists_old_one_to_one_conversations(engine):
    upgrade(engine, "0001")
    tables = metadata.tables
    history = [dict(message("hi bob", sender="alice", recepient="bob"), conversation="dm:alice\nbob"),
               dict(message("hi all", sender="carol"), conversation="ALL"),
               dict(message("hi alice", sender="bob", recepient="alice"), conversation="dm:alice\nbob"),
               dict(message("hi dave", sender="bob", recepient="dave"), conversation="dm:bob\ndave")]
    with engine.begin() as connection:
        connection.execute(tables["accounts"].insert(),
                           {"id": "alice", "alias": "Alice", "password_hash": "h", "created_ms": 1})
        connection.execute(tables["tokens"].insert(), {"token_hash": "t", "user_id": "alice", "expires_ms": 2})
        connection.execute(tables["messages"].insert(), history)
        connection.execute(tables["offline_queue"].insert(), {"user_id": "alice", "message_seq": 3})

    upgrade(engine)
    assert revision(engine) == "0004"
    with engine.connect() as connection:
        def rows(name, *order):
            return [tuple(row) for row in connection.execute(tables[name].select().order_by(*order))]

        assert rows("accounts", "id") == [("alice", "Alice", "h", 1, None)]
        assert rows("tokens", "token_hash") == [("t", "alice", 2)]
        assert [row._asdict() for row in connection.execute(
            select(*[tables["messages"].c[name] for name in (*MESSAGE_FIELDS, "conversation")])
            .order_by(tables["messages"].c.seq))] == history
        assert rows("offline_queue", "user_id") == [("alice", 3)]
        # 0002 lists both ends of each one-to-one conversation ("ALL" is no one's); 0004 keeps
        # the accounts' rows only: alice is the one account here.
        assert rows("dm_conversations", "user_id", "conversation") == [("alice", "dm:alice\nbob")]
        assert rows("rooms", "id") == rows("read_marks", "user_id") == []
