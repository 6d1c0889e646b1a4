"""Opening databases: URLs as written, SQLite's settings, restarts of the store and of PostgreSQL."""

from __future__ import annotations

import pytest
from postgres_support import PostgresServer, fresh_database
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError
from store_support import message, messages

from chatserver.store import default_url, open_engine, open_store
from chatserver.store.models import messages as messages_table

from support import free_port

NOW = 1_764_000_000_000


def test_a_postgresql_url_works_as_written(postgres_url):
    for scheme in ("postgresql://", "postgres://"):
        engine = open_engine(postgres_url.replace("postgresql://", scheme))
        try:
            assert engine.dialect.driver == "psycopg"
            with engine.connect() as connection:
                assert connection.exec_driver_sql("SELECT 1").scalar() == 1
        finally:
            engine.dispose()


def test_other_databases_are_refused():
    with pytest.raises(ValueError, match="unsupported database"):
        open_engine("mysql://user@localhost/chat")


def test_sqlite_connections_are_configured(tmp_path):
    engine = open_engine(f"sqlite:///{tmp_path / 'chat.sqlite3'}", busy_timeout=2.5)
    try:
        with engine.connect() as connection:
            pragma = lambda name: connection.exec_driver_sql(f"PRAGMA {name}").scalar()  # noqa: E731
            assert pragma("journal_mode") == "wal"
            assert pragma("synchronous") == 1  # NORMAL
            assert pragma("foreign_keys") == 1
            assert pragma("busy_timeout") == 2500
    finally:
        engine.dispose()


def test_default_url_is_a_file_in_the_instance_folder(tmp_path):
    url = default_url(tmp_path)
    assert url == f"sqlite:///{tmp_path}/chatserver.sqlite3"
    store = open_store(url)
    store.close()
    assert (tmp_path / "chatserver.sqlite3").is_file()


def test_everything_survives_a_restart(url):
    store = open_store(url)
    store.create_account("alice", "hash", "Alice", NOW)
    store.add_token("token", "alice", NOW + 1000)
    history = messages(3)
    store.save_messages([("ALL", item) for item in history])
    queued = message("for later", recepient="alice")
    store.save_offline("alice", "dm:alice\nbob", queued)
    store.close()

    store = open_store(url)
    try:
        assert store.account("alice").alias == "Alice"
        assert store.token_owner("token", NOW) == "alice"
        assert store.history("ALL") == (history, False)
        assert store.take_offline("alice") == [queued]
    finally:
        store.close()


def test_seq_is_never_reused_even_after_prune_emptied_the_table(url):
    store = open_store(url)
    try:
        store.save_messages([("ALL", item) for item in messages(3, timestamp=1)])
        assert store.prune(2) == 3
        store.save_messages([("ALL", message(timestamp=3))])
    finally:
        store.close()
    engine = open_engine(url)
    try:
        with engine.connect() as connection:
            assert connection.scalar(select(func.min(messages_table.c.seq))) == 4
    finally:
        engine.dispose()


def test_ping_raises_when_postgresql_is_not_there():
    store = open_store(f"postgresql://postgres@127.0.0.1:{free_port()}/nothing", migrate=False)
    try:
        with pytest.raises(OperationalError):
            store.ping()
    finally:
        store.close()


def test_a_restarted_postgresql_is_reconnected():
    # A server of our own, so that it can be stopped: pooled connections die with it.
    with PostgresServer() as server, fresh_database(server.port) as url:
        store = open_store(url)
        try:
            store.save_messages([("ALL", message("before"))])
            store.ping()
            server.stop()
            with pytest.raises(OperationalError):
                store.ping()
            server.start()
            store.ping()  # the pool pinged its dead connection and opened a new one
            page, _ = store.history("ALL")
            assert [item["data"] for item in page] == ["before"]
        finally:
            store.close()
