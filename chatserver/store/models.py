"""The tables, as SQLAlchemy Core ``Table``s on one ``MetaData``.

Core rather than declarative classes: the store reads and writes rows with Core statements
(executemany on the hot path, never an ORM unit of work), so mapped classes would be a second
description of the same columns that nothing uses. Alembic compares against this ``metadata``.

Types work on SQLite and PostgreSQL alike: text ids, BIGINT milliseconds since the epoch.
``messages.seq`` is the order of history: message ids are random, so pages, cursors, the
offline queue and read marks all go by ``seq``. A room's conversation key is ``room:<id>`` in
``messages.conversation``, so history needs no change for rooms. Room members, invitees and
readers are user ids with no foreign key to ``accounts``: guests join rooms too.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, ForeignKey, Index, Integer, MetaData, String, Table, Text

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
    Column("banned_ms", BigInteger, nullable=True),  # when an operator banned it; null: not banned
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

rooms = Table(
    "rooms",
    metadata,
    Column("id", String, primary_key=True),
    Column("name", String, nullable=False),
    Column("owner", String, nullable=False),  # no foreign key: guests create rooms too
    Column("private", Boolean, nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    Index(None, "owner"),  # forget_user's owned rooms
)

room_members = Table(
    "room_members",
    metadata,
    Column("room_id", String, ForeignKey("rooms.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", String, primary_key=True),
    Index(None, "user_id"),  # rooms_of, forget_user
)

room_invites = Table(
    "room_invites",
    metadata,
    Column("room_id", String, ForeignKey("rooms.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", String, primary_key=True),
    Index(None, "user_id"),  # forget_user
)

read_marks = Table(
    "read_marks",
    metadata,
    Column("user_id", String, primary_key=True),
    Column("conversation", String, primary_key=True),
    # The newest seq read; 0 is "nothing yet". No foreign key: prune may delete that message,
    # and seqs are never reused, so the mark still divides read from unread.
    Column("message_seq", BigInteger, nullable=False),
    Index(None, "conversation"),  # a deleted room's marks
)

# Who is in which one-to-one conversation ("dm:" keys), written with the messages, so the
# conversation list is an index lookup instead of a scan of ``messages`` by sender and recipient.
dm_conversations = Table(
    "dm_conversations",
    metadata,
    Column("user_id", String, primary_key=True),
    Column("conversation", String, primary_key=True),
)
