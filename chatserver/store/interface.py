"""What the domain asks of storage: accounts, session tokens, history and the offline queue.

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
    """A registered user: id, alias, password hash and creation time (ms since the epoch)."""

    id: str
    alias: str
    password_hash: str
    created_ms: int


class UnknownMessage(LookupError):
    """A history cursor names no message of that conversation."""

    def __init__(self, message_id: str) -> None:
        super().__init__(message_id)
        self.message_id = message_id


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
    def delete_account(self, user_id: str) -> bool:
        """Delete the account with its tokens and offline queue; return False when there was none."""

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
                limit: int = 50) -> tuple[list[dict], bool]:
        """Return one page of ``conversation`` oldest first, and whether more lie beyond it (PROTOCOL.md)."""

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
