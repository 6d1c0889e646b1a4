"""The tables, as SQLAlchemy Core ``Table``s on one ``MetaData``.

Core rather than declarative classes: the store reads and writes rows with Core statements
(executemany on the hot path, never an ORM unit of work), so mapped classes would be a second
description of the same columns that nothing uses. Alembic compares against this ``metadata``.

Types work on SQLite and PostgreSQL alike: text ids, BIGINT milliseconds since the epoch.
``messages.seq`` is the order of history: message ids are random, so pages, cursors, the
offline queue and (later) read marks all go by ``seq``. Tables still to come fit beside these:
``rooms`` (id, name, owner -> accounts.id, private, created_ms), ``room_members`` (room -> rooms.id,
user -> accounts.id), ``read_marks`` (user, conversation, message seq). A room's conversation key is
``room:<id>`` in ``messages.conversation``, so history needs no change for them.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, ForeignKey, Index, Integer, MetaData, String, Table, Text

# Deterministic constraint names, so a later migration can drop or alter them by name.
NAMING_CONVENTION = {
    "pk": "pk_%(table_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)

# 64-bit on PostgreSQL; on SQLite only a column typed exactly INTEGER PRIMARY KEY autoincrements
# (and it is 64-bit there anyway).
SEQUENCE = BigInteger().with_variant(Integer(), "sqlite")

accounts = Table(
    "accounts",
    metadata,
    Column("id", String, primary_key=True),
    Column("alias", String, nullable=False),
    Column("password_hash", String, nullable=False),
    Column("created_ms", BigInteger, nullable=False),
)

tokens = Table(
    "tokens",
    metadata,
    Column("token_hash", String, primary_key=True),
    Column("user_id", String, ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    Column("expires_ms", BigInteger, nullable=False),
    Index(None, "user_id"),  # revoke_tokens, and the cascade when an account goes
)

messages = Table(
    "messages",
    metadata,
    Column("seq", SEQUENCE, primary_key=True, autoincrement=True),
    Column("id", String, nullable=False),
    # Opaque to the store: "ALL", "dm:<a>\n<b>", "room:<id>" -- the domain makes the keys.
    Column("conversation", String, nullable=False),
    Column("sender", String, nullable=False),  # no foreign key: guests send too, and history outlives accounts
    Column("recepient", String, nullable=False),
    Column("command", String, nullable=False),
    Column("type", String, nullable=False),
    Column("data", Text, nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    Index(None, "id", unique=True),
    Index(None, "conversation", "seq"),  # every history page
    Index(None, "timestamp"),  # prune
    # Never reuse a seq, not even after prune emptied the table: cursors and read marks hold them.
    sqlite_autoincrement=True,
)

offline_queue = Table(
    "offline_queue",
    metadata,
    Column("user_id", String, ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True),
    # No cascade: a queued message must outlive retention until it is delivered.
    Column("message_seq", BigInteger, ForeignKey("messages.seq"), primary_key=True),
    Index(None, "message_seq"),  # prune's "is it queued?" and the foreign key check
)
