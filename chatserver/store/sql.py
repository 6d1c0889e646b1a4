"""``SqlStore``: the Store on a SQLAlchemy 2 engine, SQLite or PostgreSQL, in Core statements."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import URL, Engine, create_engine, delete, event, make_url, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from .interface import MESSAGE_FIELDS, Account, Store, UnknownMessage
from .models import accounts, messages, offline_queue, tokens

# How long an SQLite statement waits for another connection's write lock before it fails.
DEFAULT_BUSY_TIMEOUT = 5.0
# Seconds before connecting to PostgreSQL gives up: an unreachable server is an error, not a hang.
POSTGRES_CONNECT_TIMEOUT = 10
# Messages fetched per IN (...) list, well under SQLite's limit of bound parameters.
IN_CHUNK = 500

_SQLITE_IMMEDIATE = "chatserver_sqlite_immediate"  # an execution option read by the "begin" hook below
_MESSAGE_COLUMNS = [messages.c[name] for name in MESSAGE_FIELDS]
# INSERT ... ON CONFLICT DO NOTHING exists on both, in each dialect's own insert().
_INSERT = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}


def open_engine(url: str | URL, *, busy_timeout: float = DEFAULT_BUSY_TIMEOUT) -> Engine:
    """Create the engine for ``url``; ``postgresql://user@host/db`` works as written (psycopg 3).

    PostgreSQL connections are pinged before use, so a restarted server is reconnected. SQLite
    files run in WAL mode with foreign keys on, and wait ``busy_timeout`` seconds for a lock.
    """
    url = make_url(url)
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")
    backend = url.get_backend_name()
    if backend == "postgresql":
        connect_args = {} if "connect_timeout" in url.query else {"connect_timeout": POSTGRES_CONNECT_TIMEOUT}
        return create_engine(url, pool_pre_ping=True, connect_args=connect_args)
    if backend == "sqlite":
        engine = create_engine(url)
        _configure_sqlite(engine, busy_timeout)
        return engine
    raise ValueError(f"unsupported database {backend!r}: use an sqlite:// or postgresql:// URL")


def _configure_sqlite(engine: Engine, busy_timeout: float) -> None:
    @event.listens_for(engine, "connect")
    def connect(dbapi_connection, connection_record) -> None:
        # The sqlite3 module would begin transactions only before writes, leaving reads and DDL
        # outside them; SQLAlchemy's "begin" (below) starts every transaction instead.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
            # WAL: readers and the writer do not block each other. The mode stays with the file, so
            # only a new file is switched; that needs the file to itself and fails at once, busy
            # timeout or not, if another process opens the same new file at the same instant.
            if cursor.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                cursor.execute("PRAGMA journal_mode = WAL")
            # With WAL, NORMAL cannot corrupt the file; a power cut may lose the last commits.
            cursor.execute("PRAGMA synchronous = NORMAL")
            cursor.execute("PRAGMA foreign_keys = ON")  # off by default in SQLite; the cascades need it
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def begin(connection) -> None:
        # A write transaction takes the write lock up front: one that read first and then wrote
        # would fail at once with SQLITE_BUSY when another commit came between, busy timeout or not.
        immediate = connection.get_execution_options().get(_SQLITE_IMMEDIATE, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def for_writing(engine: Engine) -> Engine:
    """Return ``engine`` whose transactions take SQLite's write lock at BEGIN (the same engine otherwise)."""
    return engine.execution_options(**{_SQLITE_IMMEDIATE: True})


def _row(conversation: str, message: dict) -> dict:
    row = {name: message[name] for name in MESSAGE_FIELDS}
    row["conversation"] = conversation
    return row


class SqlStore(Store):
    """The Store in SQL; owns ``engine`` (``close`` disposes of it); safe to call from several threads."""

    def __init__(self, engine: Engine) -> None:
        if engine.dialect.name not in _INSERT:
            raise ValueError(f"unsupported database {engine.dialect.name!r}")
        self.engine = engine
        self._writer = for_writing(engine)
        self._insert = _INSERT[engine.dialect.name]
        self._insert_messages = self._insert(messages).on_conflict_do_nothing(index_elements=["id"])

    # -- accounts ---------------------------------------------------------------------------

    def create_account(self, user_id: str, password_hash: str, alias: str, now_ms: int) -> bool:
        row = {"id": user_id, "alias": alias, "password_hash": password_hash, "created_ms": now_ms}
        try:
            with self._writer.begin() as connection:
                connection.execute(accounts.insert(), row)
        except IntegrityError:
            return False  # the primary key decides between two registrations that raced
        return True

    def account(self, user_id: str) -> Account | None:
        with self.engine.connect() as connection:
            row = connection.execute(select(accounts).where(accounts.c.id == user_id)).first()
        return None if row is None else Account(**row._asdict())

    def set_password(self, user_id: str, password_hash: str) -> bool:
        statement = update(accounts).where(accounts.c.id == user_id).values(password_hash=password_hash)
        with self._writer.begin() as connection:
            return connection.execute(statement).rowcount == 1

    def delete_account(self, user_id: str) -> bool:
        # Its tokens and queue go by ON DELETE CASCADE; its messages stay in their conversations.
        with self._writer.begin() as connection:
            return connection.execute(delete(accounts).where(accounts.c.id == user_id)).rowcount == 1

    # -- session tokens ---------------------------------------------------------------------

    def add_token(self, token_hash: str, user_id: str, expires_ms: int) -> None:
        with self._writer.begin() as connection:
            connection.execute(tokens.insert(), {"token_hash": token_hash, "user_id": user_id,
                                                 "expires_ms": expires_ms})

    def token_owner(self, token_hash: str, now_ms: int) -> str | None:
        query = select(tokens.c.user_id).where(tokens.c.token_hash == token_hash, tokens.c.expires_ms > now_ms)
        with self.engine.connect() as connection:
            return connection.scalar(query)

    def revoke_token(self, token_hash: str) -> None:
        with self._writer.begin() as connection:
            connection.execute(delete(tokens).where(tokens.c.token_hash == token_hash))

    def revoke_tokens(self, user_id: str) -> None:
        with self._writer.begin() as connection:
            connection.execute(delete(tokens).where(tokens.c.user_id == user_id))

    # -- history and offline delivery --------------------------------------------------------

    def save_messages(self, items: Sequence[tuple[str, dict]]) -> None:
        if not items:
            return
        rows = [_row(conversation, message) for conversation, message in items]
        with self._writer.begin() as connection:
            connection.execute(self._insert_messages, rows)  # executemany, one transaction

    def save_offline(self, user_id: str, conversation: str, message: dict) -> None:
        with self._writer.begin() as connection:
            connection.execute(self._insert_messages, [_row(conversation, message)])
            seq = connection.scalar(select(messages.c.seq).where(messages.c.id == message["id"]))
            connection.execute(self._insert(offline_queue).on_conflict_do_nothing(),
                               {"user_id": user_id, "message_seq": seq})

    def take_offline(self, user_id: str) -> list[dict]:
        taken = delete(offline_queue).where(offline_queue.c.user_id == user_id).returning(offline_queue.c.message_seq)
        rows = []
        with self._writer.begin() as connection:
            # Deleting first is what makes a message go to one caller only: of two racing
            # transactions, the second deletes (and so returns) nothing.
            seqs = sorted(connection.scalars(taken))
            for start in range(0, len(seqs), IN_CHUNK):
                query = select(*_MESSAGE_COLUMNS).where(messages.c.seq.in_(seqs[start:start + IN_CHUNK]))
                rows += connection.execute(query.order_by(messages.c.seq)).all()
        return [row._asdict() for row in rows]

    def history(self, conversation: str, *, before: str | None = None, after: str | None = None,
                limit: int = 50) -> tuple[list[dict], bool]:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        if before is not None and after is not None:
            raise ValueError("give before or after, not both")
        cursor = before if before is not None else after
        # One row more than the page says whether more lie beyond it.
        query = select(*_MESSAGE_COLUMNS).where(messages.c.conversation == conversation).limit(limit + 1)
        with self.engine.connect() as connection:  # one transaction: the cursor and its page agree
            if cursor is not None:
                seq = connection.scalar(select(messages.c.seq).where(messages.c.id == cursor,
                                                                     messages.c.conversation == conversation))
                if seq is None:
                    raise UnknownMessage(cursor)
                query = query.where(messages.c.seq < seq if before is not None else messages.c.seq > seq)
            # Without `after` the page is the newest ones: fetch newest first, then turn it around.
            newest_first = after is None
            rows = connection.execute(query.order_by(messages.c.seq.desc() if newest_first else messages.c.seq)).all()
        page = [row._asdict() for row in rows[:limit]]
        if newest_first:
            page.reverse()
        return page, len(rows) > limit

    def prune(self, before_ms: int) -> int:
        queued = select(offline_queue.c.message_seq).where(offline_queue.c.message_seq == messages.c.seq).exists()
        with self._writer.begin() as connection:
            count = connection.execute(delete(messages).where(messages.c.timestamp < before_ms, ~queued)).rowcount
            connection.execute(delete(tokens).where(tokens.c.expires_ms <= before_ms))
        return count

    # -- lifecycle ---------------------------------------------------------------------------

    def ping(self) -> None:
        with self.engine.connect() as connection:
            connection.exec_driver_sql("SELECT 1")

    def close(self) -> None:
        self.engine.dispose()
