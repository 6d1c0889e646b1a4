"""Helpers for the store tests: messages shaped as the domain delivers them."""

from __future__ import annotations

import itertools
import secrets

_clock = itertools.count(1_764_000_000_000)  # ms, past 2**32: the columns must be 64-bit


def message(data: str = "hello", *, sender: str = "alice", recepient: str = "ALL", timestamp: int | None = None,
            command: str = "chat") -> dict:
    """A delivered message: a random hex id (ids say nothing about order) and the seven fields."""
    return {
        "id": secrets.token_hex(8),
        "sender": sender,
        "recepient": recepient,
        "command": command,
        "type": "text",
        "data": data,
        "timestamp": next(_clock) if timestamp is None else timestamp,
    }


def messages(count: int, **fields) -> list[dict]:
    """``count`` messages with data "0", "1", ..."""
    return [message(str(number), **fields) for number in range(count)]
