"""Storage behind one interface: accounts, session tokens, history, offline delivery.

SQLite for one process, PostgreSQL for many nodes.
"""

from __future__ import annotations

from .interface import MESSAGE_FIELDS, Account, Store, UnknownMessage
from .migrate import upgrade
from .sql import DEFAULT_BUSY_TIMEOUT, SqlStore, open_engine

__all__ = [
    "DEFAULT_BUSY_TIMEOUT",
    "MESSAGE_FIELDS",
    "Account",
    "SqlStore",
    "Store",
    "UnknownMessage",
    "open_engine",
    "upgrade",
]
