"""Conversations as the store keeps them, and the `history` request's parameters."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .errors import ChatError

BROADCAST = "ALL"
GROUP_CHAT = "groupchat"
DEFAULT_LIMIT, MAX_LIMIT = 50, 100
MAX_CURSOR_LENGTH = 128


def conversation_of(user: str, peer: str, command: str = "chat") -> str:
    """Return the store's key of ``user``'s conversation with ``peer`` (a user, a room, or ``ALL``)."""
    if peer == BROADCAST:
        return BROADCAST
    if command == GROUP_CHAT:
        return "room:" + peer
    # One key for both directions: alice's conversation with bob is bob's with alice.
    first, second = sorted((user, peer))
    return f"dm:{first}\n{second}"


@dataclass(frozen=True)
class HistoryPage:
    """Which page of a conversation a `history` event asks for."""

    before: str | None
    after: str | None
    limit: int


def history_page(payload: dict) -> HistoryPage:
    """Read ``before``/``after``/``limit`` of a `history` payload, or raise ChatError 400."""
    cursors = {}
    for name in ("before", "after"):
        value = payload.get(name)
        if value is not None and (not isinstance(value, str) or not 0 < len(value) <= MAX_CURSOR_LENGTH):
            raise ChatError("400", detail=f"{name} must be a message id")
        cursors[name] = value
    if cursors["before"] is not None and cursors["after"] is not None:
        raise ChatError("400", detail="give before or after, not both")
    limit: Any = payload.get("limit", DEFAULT_LIMIT)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise ChatError("400", detail=f"limit must be an integer 1-{MAX_LIMIT}")
    return HistoryPage(cursors["before"], cursors["after"], limit)
