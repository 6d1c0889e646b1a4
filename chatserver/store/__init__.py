"""Storage behind one interface: accounts, session tokens, history, offline delivery, rooms, read marks.

``open_store(url)`` is the way in: it makes the engine, brings the tables up to date and
returns a ``Store`` whose calls run on a worker thread, off the event loop. SQLite for one
process, PostgreSQL for many nodes.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from .interface import MESSAGE_FIELDS, Account, Conversation, Room, Store, StoreUnavailable, UnknownMessage
from .migrate import upgrade
from .process import ProcessStore
from .sql import DEFAULT_BUSY_TIMEOUT, SqlStore, open_engine
from .worker import OS_THREADS, OffloadedStore, Threads

__all__ = [
    "MESSAGE_FIELDS",
    "OS_THREADS",
    "Account",
    "Conversation",
    "OffloadedStore",
    "ProcessStore",
    "Room",
    "SqlStore",
    "Store",
    "StoreUnavailable",
    "Threads",
    "UnknownMessage",
    "default_url",
    "open_engine",
    "open_store",
    "upgrade",
]


def default_url(instance_path: str | Path) -> str:
    """The SQLite file in the app's instance folder (the folder must exist)."""
    return f"sqlite:///{Path(instance_path) / 'chatserver.sqlite3'}"


def open_store(url: str, *, threads: Threads = OS_THREADS, migrate: bool = True,
               busy_timeout: float = DEFAULT_BUSY_TIMEOUT, process: bool = False,
               observe_save: Callable[[float], None] | None = None) -> OffloadedStore:
    """Open the database at ``url``, migrate it unless told not to, and run the store on a worker thread.

    Blocks while it connects and migrates: call it at startup, before serving. With ``process``
    the worker thread hands every call to a child process that owns the database (see
    ``ProcessStore``). ``observe_save`` is told the seconds of each batched write of messages.
    """
    if process:
        child = ProcessStore(url, migrate=migrate, busy_timeout=busy_timeout)
        return OffloadedStore(child, threads, observe_save=observe_save)
    engine = open_engine(url, busy_timeout=busy_timeout)
    try:
        if migrate:
            upgrade(engine)
        return OffloadedStore(SqlStore(engine), threads, observe_save=observe_save)
    except BaseException:
        engine.dispose()
        raise
