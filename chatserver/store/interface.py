"""What the domain asks of storage: accounts, tokens, history, the offline queue, rooms and read marks.

Every method blocks until the database answered. Under eventlet, call them through
``OffloadedStore`` (worker.py), which runs them on one OS thread off the event loop.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

# The delivered ``message`` event's fields, in order: what the store keeps and gives back.
MESSAGE_FIELDS = ("id", "sender", "recepient", "command", "type", "data", "timestamp")


@dataclass(frozen=True)
class Account:
    """A registered user: id, alias, password hash, creation time and, if banned, since when (ms since the epoch)."""

    id: str
    alias: str
    password_hash: str
    created_ms: int
    banned_ms: int | None = None


@dataclass(frozen=True)
class Room:
    """A chat room: id, display name, the owner's user id, whether it is private, and its member count."""

    id: str
    name: str
    owner: str
    private: bool
    members: int


@dataclass(frozen=True)
class Conversation:
    """One of a user's conversations: the store's key, its newest message (None if none) and the unread count."""

    key: str
    last: dict | None
    unread: int


class UnknownMessage(LookupError):
    """A history cursor names no message of that conversation."""

    def __init__(self, message_id: str) -> None:
        super().__init__(message_id)
        self.message_id = message_id


class StoreUnavailable(Exception):
    """The database cannot be reached (down, or locked past the busy timeout); the text says why in one line."""


class Store(ABC):
    """Durable chat state behind one interface; the domain never sees SQL."""

    # -- accounts ---------------------------------------------------------------------------

    @abstractmethod
    def create_account(self, user_id: str, password_hash: str, alias: str, now_ms: int) -> bool:
        """Register ``user_id``; return False when that id is already registered."""

    @abstractmethod
    def account(self, user_id: str) -> Account | None:
        """Return the registered account ``user_id``, or None."""

    @abstractmethod
    def set_password(self, user_id: str, password_hash: str) -> bool:
        """Replace the account's password hash; return False when there is no such account."""

    @abstractmethod
    def set_banned(self, user_id: str, banned_ms: int | None) -> bool:
        """Ban the account since ``banned_ms`` (None lifts the ban); return False when there is no such account."""

    @abstractmethod
    def delete_account(self, user_id: str) -> bool:
        """Delete the account, its tokens and offline queue, and ``forget_user`` it; False if there was none."""

    # -- session tokens (sha256 hex of the token; the store never sees a raw token) ---------

    @abstractmethod
    def add_token(self, token_hash: str, user_id: str, expires_ms: int) -> None:
        """Store a session token of ``user_id``, valid until ``expires_ms`` (exclusive)."""

    @abstractmethod
    def token_owner(self, token_hash: str, now_ms: int) -> str | None:
        """Return whose token this is, or None when it is unknown or expired at ``now_ms``."""

    @abstractmethod
    def revoke_token(self, token_hash: str) -> None:
        """Forget one token."""

    @abstractmethod
    def revoke_tokens(self, user_id: str) -> None:
        """Forget every token of ``user_id``."""

    # -- history and offline delivery --------------------------------------------------------

    @abstractmethod
    def save_messages(self, items: Sequence[tuple[str, dict]]) -> None:
        """Store (conversation, message) pairs in one transaction; ids already stored are skipped."""

    @abstractmethod
    def save_offline(self, user_id: str, conversation: str, message: dict) -> None:
        """Store ``message`` in history and queue it for registered ``user_id``, in one transaction."""

    @abstractmethod
    def take_offline(self, user_id: str) -> list[dict]:
        """Return and unqueue ``user_id``'s queued messages, oldest first; each is taken once."""

    @abstractmethod
    def history(self, conversation: str, *, before: str | None = None, after: str | None = None,
                limit: int = 50, since_ms: int = 0) -> tuple[list[dict], bool]:
        """Return one page of ``conversation`` oldest first, and whether more lie beyond it (PROTOCOL.md).

        Only messages stamped ``since_ms`` or later count, as if the older ones were not there.
        """

    # -- rooms (members are user ids: registered users and guests alike) -----------------------

    @abstractmethod
    def create_room(self, room_id: str, name: str, owner: str, private: bool, now_ms: int) -> bool:
        """Create the room with ``owner`` as its first member; return False when the id is taken."""

    @abstractmethod
    def room(self, room_id: str) -> Room | None:
        """Return the room with its member count, or None."""

    @abstractmethod
    def rooms(self) -> list[Room]:
        """Return every room with its member count, sorted by id."""

    @abstractmethod
    def rename_room(self, room_id: str, name: str) -> bool:
        """Set the room's name; return False when there is no such room."""

    @abstractmethod
    def delete_room(self, room_id: str) -> list[str] | None:
        """Delete the room with its members, invitations, read marks and messages; return its members, or None."""

    @abstractmethod
    def add_member(self, room_id: str, user_id: str) -> bool:
        """Make ``user_id`` a member, read up to the room's newest message; return False if already one or no room."""

    @abstractmethod
    def remove_member(self, room_id: str, user_id: str) -> bool:
        """Remove ``user_id`` from the room (and its read mark); return False if they were not a member."""

    @abstractmethod
    def is_member(self, room_id: str, user_id: str) -> bool:
        """Return whether ``user_id`` is a member of the room."""

    @abstractmethod
    def members(self, room_id: str) -> list[tuple[str, str]]:
        """Return the room's members as (user id, alias) sorted by id; a guest's alias is its id."""

    @abstractmethod
    def rooms_of(self, user_id: str) -> list[str]:
        """Return the ids of the rooms ``user_id`` is a member of, sorted."""

    @abstractmethod
    def invite(self, room_id: str, user_id: str) -> None:
        """Let ``user_id`` join the (private) room; inviting twice is the same as once, to no room does nothing."""

    @abstractmethod
    def is_invited(self, room_id: str, user_id: str) -> bool:
        """Return whether ``user_id`` holds an invitation to the room."""

    @abstractmethod
    def forget_user(self, user_id: str) -> list[str]:
        """Drop the user's memberships, invitations, read marks and owned rooms (as delete_room); return their ids."""

    # -- read marks and the conversation list --------------------------------------------------

    @abstractmethod
    def mark_read(self, user_id: str, conversation: str, message_id: str) -> dict:
        """Record that ``user_id`` read ``conversation`` up to ``message_id`` and return that message.

        A mark only moves forward: an older id leaves it where it is (the message is still
        returned). Raise UnknownMessage when the id is not in that conversation.
        """

    @abstractmethod
    def conversations(self, user_id: str, room_keys: Sequence[str]) -> list[Conversation]:
        """Return the user's one-to-one conversations and ``room_keys``, most recent first.

        A key starting with ``dm:`` is one-to-one: the store finds those in which ``user_id``
        sent or received a message while it was an account (a guest's are not kept). ``unread``
        counts the others' messages after the user's read mark (all of them without one); rooms
        without messages come last, by key.
        """

    @abstractmethod
    def prune(self, before_ms: int) -> int:
        """Delete messages older than ``before_ms`` that no queue holds, and tokens expired by then.

        Return how many messages went.
        """

    # -- lifecycle ---------------------------------------------------------------------------

    @abstractmethod
    def ping(self) -> None:
        """Raise when the database cannot be reached."""

    @abstractmethod
    def close(self) -> None:
        """Release the database connections."""
