"""Admission of new Socket.IO clients: a cap per client address, and none while shutting down."""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs

logger = logging.getLogger(__name__)

TOO_MANY = ("429 Too Many Requests", b"Too many connections from this address.\n")
SHUTTING_DOWN = ("503 Service Unavailable", b"The server is shutting down; try again in a few seconds.\n")


class Admission:
    """WSGI middleware in front of the Socket.IO app that refuses Engine.IO handshakes it must not accept.

    A handshake is a GET on the Socket.IO path without a ``sid``. Live sessions are counted per
    ``REMOTE_ADDR`` through the Engine.IO server's connect and disconnect handlers, so a session
    counts from its handshake until Engine.IO forgets it (disconnect or ping timeout).
    """

    def __init__(self, wsgi_app: Callable, eio: Any, path: str, max_per_address: int = 0) -> None:
        self.wsgi_app = wsgi_app
        self.path = path
        self.max_per_address = max_per_address
        self.accepting = True
        # Set by transport.install: the send-queue guard, whose count of dropped clients the metrics read.
        self.slow_consumer_guard: Any = None
        self._address_of: dict[str, str] = {}
        self._sessions = Counter()
        self._lock = threading.Lock()
        self._connect = eio.handlers["connect"]
        self._disconnect = eio.handlers["disconnect"]
        eio.handlers["connect"] = self.on_connect
        eio.handlers["disconnect"] = self.on_disconnect

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        if self._is_handshake(environ):
            refusal = self._refusal(environ.get("REMOTE_ADDR", ""))
            if refusal is not None:
                status, body = refusal
                start_response(status, [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
                return [body]
        return self.wsgi_app(environ, start_response)

    def stop_accepting(self) -> None:
        """Refuse every new handshake from now on (graceful shutdown)."""
        self.accepting = False

    def sessions_from(self, address: str) -> int:
        """Return how many live Engine.IO sessions ``address`` holds."""
        return self._sessions[address]

    def on_connect(self, sid: str, environ: dict, *args: Any) -> Any:
        """Engine.IO connect handler: count the session once the Socket.IO server accepted it."""
        result = self._connect(sid, environ, *args)
        if result is None or result is True:
            address = environ.get("REMOTE_ADDR", "")
            with self._lock:
                self._address_of[sid] = address
                self._sessions[address] += 1
        return result

    def on_disconnect(self, sid: str, *args: Any) -> Any:
        """Engine.IO disconnect handler: the session no longer counts."""
        with self._lock:
            address = self._address_of.pop(sid, None)
            if address is not None:
                self._sessions[address] -= 1
                if not self._sessions[address]:
                    del self._sessions[address]
        return self._disconnect(sid, *args)

    def _is_handshake(self, environ: dict) -> bool:
        if environ.get("REQUEST_METHOD") != "GET" or not environ.get("PATH_INFO", "").startswith(self.path):
            return False
        return "sid" not in parse_qs(environ.get("QUERY_STRING", ""))

    def _refusal(self, address: str) -> tuple[str, bytes] | None:
        if not self.accepting:
            return SHUTTING_DOWN
        if self.max_per_address and self._sessions[address] >= self.max_per_address:
            logger.info("refused a connection from %s: it holds %d already", address, self._sessions[address])
            return TOO_MANY
        return None
