"""``SqlStore``: the Store on a SQLAlchemy 2 engine, SQLite or PostgreSQL, in Core statements."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence

from sqlalchemy import URL, Connection, Engine, create_engine, delete, event, func, make_url, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from .interface import MESSAGE_FIELDS, Account, Conversation, Room, Store, UnknownMessage
from .models import (
    accounts,
    dm_conversations,
    messages,
    offline_queue,
    read_marks,
    room_invites,
    room_members,
    rooms,
    tokens,
)

# How long an SQLite statement waits for another connection's write lock before it fails.
DEFAULT_BUSY_TIMEOUT = 5.0
# Seconds before connecting to PostgreSQL gives up: an unreachable server is an error, not a hang.
POSTGRES_CONNECT_TIMEOUT = 10
# Messages fetched per IN (...) list, well under SQLite's limit of bound parameters.
IN_CHUNK = 500
# The (user, one-to-one conversation) pairs a SqlStore remembers having written to
# dm_conversations, and for how many seconds: after that it writes them again, so a row another
# process deleted (forget_user on another node, the admin command) comes back with the next message.
PARTICIPANTS_LIMIT = 100_000
PARTICIPANTS_LIFETIME = 600.0

_SQLITE_IMMEDIATE = "chatserver_sqlite_immediate"  # an execution option read by the "begin" hook below
_MESSAGE_COLUMNS = [messages.c[name] for name in MESSAGE_FIELDS]
# A room with its member count: the Room dataclass's fields.
_ROOMS = select(rooms.c.id, rooms.c.name, rooms.c.owner, rooms.c.private,
                select(func.count()).where(room_members.c.room_id == rooms.c.id).scalar_subquery().label("members"))
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


def _room_key(room_id: str) -> str:
    # The domain's key of a room's conversation (chat/history.py), for its messages and read marks.
    return "room:" + room_id


class _Participants:
    """The (account, one-to-one conversation) pairs already in dm_conversations, bounded and expiring.

    Saving a message in a conversation whose pairs are known costs no statement: that is what
    keeps the hot path as cheap as it was. Forgetting too much only costs an INSERT that does nothing.
    """

    def __init__(self) -> None:
        self._known: dict[str, set[str]] = {}
        self._size = 0
        self._since = time.monotonic()

    def new(self, items: Iterable[tuple[str, dict]]) -> list[dict]:
        """Return the dm_conversations rows of ``items`` not known to be written, each once."""
        if time.monotonic() - self._since > PARTICIPANTS_LIFETIME:
            self._clear()
        pairs: dict[tuple[str, str], None] = {}
        for conversation, message in items:
            if conversation.startswith("dm:"):
                for user_id in (message["sender"], message["recepient"]):
                    if conversation not in self._known.get(user_id, ()):
                        pairs[user_id, conversation] = None
        return [{"user_id": user_id, "conversation": conversation} for user_id, conversation in pairs]

    def written(self, rows: list[dict]) -> None:
        """Remember ``rows`` as committed."""
        if self._size + len(rows) > PARTICIPANTS_LIMIT:
            self._clear()
        for row in rows:
            self._known.setdefault(row["user_id"], set()).add(row["conversation"])
        self._size += len(rows)

    def forget(self, user_id: str) -> None:
        """Stop assuming ``user_id``'s rows exist (they were deleted)."""
        self._size -= len(self._known.pop(user_id, ()))

    def _clear(self) -> None:
        self._known, self._size, self._since = {}, 0, time.monotonic()


class SqlStore(Store):
    """The Store in SQL; owns ``engine`` (``close`` disposes of it); safe to call from several threads."""

    def __init__(self, engine: Engine) -> None:
        if engine.dialect.name not in _INSERT:
            raise ValueError(f"unsupported database {engine.dialect.name!r}")
        self.engine = engine
        self._writer = for_writing(engine)
        self._insert = _INSERT[engine.dialect.name]
        self._insert_messages = self._insert(messages).on_conflict_do_nothing(index_elements=["id"])
        self._insert_participants = self._insert(dm_conversations).on_conflict_do_nothing()
        self._participants = _Participants()
        mark = self._insert(read_marks)
        mark_key, seq = ["user_id", "conversation"], {"message_seq": mark.excluded.message_seq}
        self._set_mark = mark.on_conflict_do_update(index_elements=mark_key, set_=seq)
        # Forward only, in the statement itself: of two racing marks the newer wins either way.
        self._advance_mark = mark.on_conflict_do_update(index_elements=mark_key, set_=seq,
                                                        where=read_marks.c.message_seq < mark.excluded.message_seq)

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

    def set_banned(self, user_id: str, banned_ms: int | None) -> bool:
        statement = update(accounts).where(accounts.c.id == user_id).values(banned_ms=banned_ms)
        with self._writer.begin() as connection:
            return connection.execute(statement).rowcount == 1

    def delete_account(self, user_id: str) -> bool:
        # Its tokens and queue go by ON DELETE CASCADE; its messages stay in their conversations.
        with self._writer.begin() as connection:
            if connection.execute(delete(accounts).where(accounts.c.id == user_id)).rowcount != 1:
                return False  # no account: a guest of that id keeps its rooms
            self._forget(connection, user_id)
        self._participants.forget(user_id)
        return True

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
            participants = self._record_participants(connection, items)
        self._participants.written(participants)

    def save_offline(self, user_id: str, conversation: str, message: dict) -> None:
        with self._writer.begin() as connection:
            connection.execute(self._insert_messages, [_row(conversation, message)])
            seq = connection.scalar(select(messages.c.seq).where(messages.c.id == message["id"]))
            connection.execute(self._insert(offline_queue).on_conflict_do_nothing(),
                               {"user_id": user_id, "message_seq": seq})
            participants = self._record_participants(connection, [(conversation, message)])
        self._participants.written(participants)

    def _record_participants(self, connection: Connection, items: Sequence[tuple[str, dict]]) -> list[dict]:
        """Write the dm_conversations rows of ``items`` not known yet, for accounts only; return them."""
        rows = self._participants.new(items)
        if not rows:
            return rows
        # Only an account lists its conversations. A guest cannot, and a row kept for a guest's id
        # would show the guest's conversations to whoever registers that id later. Guests are
        # looked up again in each batch that has them: one indexed read, where a row would be a
        # write into a random page of the table (the most costly part of saving a message).
        users = list({row["user_id"] for row in rows})
        registered: set[str] = set()
        for start in range(0, len(users), IN_CHUNK):
            chunk = users[start:start + IN_CHUNK]
            registered.update(connection.scalars(select(accounts.c.id).where(accounts.c.id.in_(chunk))))
        rows = [row for row in rows if row["user_id"] in registered]
        if rows:
            connection.execute(self._insert_participants, rows)
        return rows

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
                limit: int = 50, since_ms: int = 0) -> tuple[list[dict], bool]:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        if before is not None and after is not None:
            raise ValueError("give before or after, not both")
        cursor = before if before is not None else after
        # One row more than the page says whether more lie beyond it.
        query = select(*_MESSAGE_COLUMNS).where(messages.c.conversation == conversation).limit(limit + 1)
        if since_ms:
            query = query.where(messages.c.timestamp >= since_ms)
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

    # -- rooms ---------------------------------------------------------------------------------
    # Lists of ids are sorted in Python: code point order on both databases, whatever collation
    # PostgreSQL was set up with.

    def create_room(self, room_id: str, name: str, owner: str, private: bool, now_ms: int) -> bool:
        row = {"id": room_id, "name": name, "owner": owner, "private": private, "created_ms": now_ms}
        try:
            with self._writer.begin() as connection:
                connection.execute(rooms.insert(), row)
                self._join(connection, room_id, owner)
        except IntegrityError:
            return False  # the primary key decides between two creations that raced
        return True

    def room(self, room_id: str) -> Room | None:
        with self.engine.connect() as connection:
            row = connection.execute(_ROOMS.where(rooms.c.id == room_id)).first()
        return None if row is None else Room(**row._asdict())

    def rooms(self) -> list[Room]:
        with self.engine.connect() as connection:
            found = [Room(**row._asdict()) for row in connection.execute(_ROOMS)]
        return sorted(found, key=lambda room: room.id)

    def rename_room(self, room_id: str, name: str) -> bool:
        with self._writer.begin() as connection:
            return connection.execute(update(rooms).where(rooms.c.id == room_id).values(name=name)).rowcount == 1

    def delete_room(self, room_id: str) -> list[str] | None:
        with self._writer.begin() as connection:
            # Lock the room first (PostgreSQL): someone joining meanwhile waits for this
            # transaction and then finds no room, so the members returned are all there were.
            if connection.scalar(select(rooms.c.id).where(rooms.c.id == room_id).with_for_update()) is None:
                return None
            members = list(connection.scalars(select(room_members.c.user_id).where(room_members.c.room_id == room_id)))
            self._delete_conversations(connection, [_room_key(room_id)])
            # Its members and invitations go by ON DELETE CASCADE.
            connection.execute(delete(rooms).where(rooms.c.id == room_id))
        return sorted(members)

    def add_member(self, room_id: str, user_id: str) -> bool:
        try:
            with self._writer.begin() as connection:
                return self._join(connection, room_id, user_id)
        except IntegrityError:
            return False  # no such room (the foreign key): nobody joined

    def remove_member(self, room_id: str, user_id: str) -> bool:
        member = (room_members.c.room_id == room_id) & (room_members.c.user_id == user_id)
        with self._writer.begin() as connection:
            removed = connection.execute(delete(room_members).where(member)).rowcount == 1
            connection.execute(delete(read_marks).where(read_marks.c.user_id == user_id,
                                                        read_marks.c.conversation == _room_key(room_id)))
        return removed

    def is_member(self, room_id: str, user_id: str) -> bool:
        query = select(room_members.c.user_id).where(room_members.c.room_id == room_id,
                                                     room_members.c.user_id == user_id)
        with self.engine.connect() as connection:
            return connection.scalar(query) is not None

    def members(self, room_id: str) -> list[tuple[str, str]]:
        # Outer join: a guest has no account, so its alias is its id.
        query = (select(room_members.c.user_id, func.coalesce(accounts.c.alias, room_members.c.user_id))
                 .select_from(room_members.outerjoin(accounts, accounts.c.id == room_members.c.user_id))
                 .where(room_members.c.room_id == room_id))
        with self.engine.connect() as connection:
            return sorted((user_id, alias) for user_id, alias in connection.execute(query))

    def rooms_of(self, user_id: str) -> list[str]:
        with self.engine.connect() as connection:
            return sorted(connection.scalars(select(room_members.c.room_id).where(room_members.c.user_id == user_id)))

    def invite(self, room_id: str, user_id: str) -> None:
        try:
            with self._writer.begin() as connection:
                connection.execute(self._insert(room_invites).on_conflict_do_nothing(),
                                   {"room_id": room_id, "user_id": user_id})
        except IntegrityError:
            pass  # no such room (the foreign key): like a deleted room's, the invitation is gone

    def is_invited(self, room_id: str, user_id: str) -> bool:
        query = select(room_invites.c.user_id).where(room_invites.c.room_id == room_id,
                                                     room_invites.c.user_id == user_id)
        with self.engine.connect() as connection:
            return connection.scalar(query) is not None

    def forget_user(self, user_id: str) -> list[str]:
        with self._writer.begin() as connection:
            deleted = self._forget(connection, user_id)
        self._participants.forget(user_id)
        return deleted

    def _join(self, connection: Connection, room_id: str, user_id: str) -> bool:
        """Add the member with a read mark at the room's newest message; False if already one."""
        # RETURNING says whether the row went in: SQLAlchemy keeps rowcount for UPDATE and DELETE only.
        join = self._insert(room_members).on_conflict_do_nothing().returning(room_members.c.user_id)
        if connection.execute(join, {"room_id": room_id, "user_id": user_id}).first() is None:
            return False
        key = _room_key(room_id)
        newest = connection.scalar(select(func.coalesce(func.max(messages.c.seq), 0))
                                   .where(messages.c.conversation == key))
        connection.execute(self._set_mark, {"user_id": user_id, "conversation": key, "message_seq": newest})
        return True

    def _delete_conversations(self, connection: Connection, keys: list[str]) -> None:
        """Delete deleted rooms' messages and read marks.

        A room's history goes with the room: whoever creates a room of that id later must not
        read what the earlier room's members said, private or not. Room messages are never in
        the offline queue, so nothing holds on to them.
        """
        for start in range(0, len(keys), IN_CHUNK):
            chunk = keys[start:start + IN_CHUNK]
            connection.execute(delete(read_marks).where(read_marks.c.conversation.in_(chunk)))
            connection.execute(delete(messages).where(messages.c.conversation.in_(chunk)))

    def _forget(self, connection: Connection, user_id: str) -> list[str]:
        """Delete the user's rooms, memberships, invitations, marks and one-to-one rows; return the rooms' ids."""
        # The owned rooms' members and invitations go by ON DELETE CASCADE, their marks here.
        owned = sorted(connection.scalars(delete(rooms).where(rooms.c.owner == user_id).returning(rooms.c.id)))
        self._delete_conversations(connection, [_room_key(room_id) for room_id in owned])
        for table in (room_members, room_invites, read_marks, dm_conversations):
            connection.execute(delete(table).where(table.c.user_id == user_id))
        return owned

    # -- read marks and the conversation list --------------------------------------------------

    def mark_read(self, user_id: str, conversation: str, message_id: str) -> dict:
        query = select(messages.c.seq, *_MESSAGE_COLUMNS).where(messages.c.id == message_id,
                                                                messages.c.conversation == conversation)
        with self._writer.begin() as connection:
            row = connection.execute(query).first()
            if row is None:
                raise UnknownMessage(message_id)
            connection.execute(self._advance_mark, {"user_id": user_id, "conversation": conversation,
                                                    "message_seq": row.seq})
        message = row._asdict()
        del message["seq"]
        return message

    def conversations(self, user_id: str, room_keys: Sequence[str]) -> list[Conversation]:
        found: list[tuple[int, Conversation]] = []  # (seq of the last message, 0 if none; the conversation)
        with self.engine.connect() as connection:  # one transaction for the whole list
            dms = select(dm_conversations.c.conversation).where(dm_conversations.c.user_id == user_id)
            for key in dict.fromkeys([*connection.scalars(dms), *room_keys]):
                in_conversation = messages.c.conversation == key
                row = connection.execute(select(messages.c.seq, *_MESSAGE_COLUMNS).where(in_conversation)
                                         .order_by(messages.c.seq.desc()).limit(1)).first()
                if row is None:
                    found.append((0, Conversation(key, None, 0)))
                    continue
                last = row._asdict()
                seq = last.pop("seq")
                mark = select(read_marks.c.message_seq).where(read_marks.c.user_id == user_id,
                                                              read_marks.c.conversation == key).scalar_subquery()
                # Up to `last` only: a message saved since (PostgreSQL's statements each see the
                # latest commits) must not be counted unread when it is not the one shown as last.
                unread = connection.scalar(select(func.count()).where(
                    in_conversation, messages.c.seq > func.coalesce(mark, 0), messages.c.seq <= seq,
                    messages.c.sender != user_id))
                found.append((seq, Conversation(key, last, unread)))
        # Newest last message first; those without messages (seq 0) after them, by key.
        found.sort(key=lambda item: (-item[0], item[1].key))
        return [conversation for _, conversation in found]

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
