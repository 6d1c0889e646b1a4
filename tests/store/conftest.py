"""Fixtures for the store tests: each runs on a real SQLite file and on a real PostgreSQL database."""

from __future__ import annotations

import pytest

from chatserver.store import SqlStore, open_engine, open_store, upgrade


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path):
    """A database URL with no tables yet: an SQLite file under tmp_path, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'chatserver.sqlite3'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture(params=["thread", "process"])
def store(request, url):
    """The store as the server opens it: migrated, behind the worker thread, in a child process or not."""
    store = open_store(url, process=request.param == "process")
    yield store
    store.close()


@pytest.fixture
def sql_store(url):
    """The SqlStore alone, called from the test's own threads (as several nodes would call one database)."""
    engine = open_engine(url)
    upgrade(engine)
    store = SqlStore(engine)
    yield store
    store.close()
