"""The one exception of the domain: a client event that cannot be done, with its protocol code."""

from __future__ import annotations

from typing import Any


class ChatError(Exception):
    """A client event that cannot be done, with its protocol code and text key."""

    def __init__(self, code: str, text_key: Any = None, **details: Any) -> None:
        super().__init__(code, details)
        self.code = code
        self.text_key = text_key or code
        self.details = details
