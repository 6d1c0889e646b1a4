"""A deadline on each HTTP request's line and headers for eventlet's WSGI server (slowloris).

eventlet.wsgi only times out single socket operations (``socket_timeout``), so a client that
sends its request head one byte at a time, just inside that timeout, holds a connection and a
green thread for as long as it likes. Here the whole head must arrive within the deadline,
counted from when the connection starts waiting for it (idle keep-alive time included); once
the head is in, the request takes as long as it needs (long-polling, WebSocket).

Imported by the entry points only: it imports eventlet.
"""

from __future__ import annotations

import logging

import eventlet
from eventlet import wsgi

logger = logging.getLogger(__name__)


class RequestHeadTimeout(Exception):
    """The request line and headers did not arrive in time."""


class HeadDeadlineProtocol(wsgi.HttpProtocol):
    """eventlet's HTTP protocol with a deadline of ``head_timeout`` seconds on every request head."""

    head_timeout: float = 20.0
    # The request's read and write buffers live as long as its connection, and a WebSocket
    # connection never uses them after the handshake: eventlet's 8 KiB and 16 KiB cost a
    # long-lived client more memory than anything else it holds. 1 KiB holds a request head;
    # bigger bodies and replies go around the buffers.
    rbufsize = 1024
    wbufsize = 1024

    def handle_one_request(self) -> None:
        """Serve one request, closing the connection if its head is late."""
        self._head_deadline = eventlet.Timeout(self.head_timeout, RequestHeadTimeout) if self.head_timeout else None
        try:
            super().handle_one_request()
        except RequestHeadTimeout:
            logger.info(
                "closed a connection from %s: no complete request head within %s s",
                self.client_address[0] if self.client_address else "?",
                self.head_timeout,
            )
            self.close_connection = 1
        finally:
            self._cancel_head_deadline()

    def get_environ(self) -> dict:
        """Build the WSGI environ: the head is complete, so the deadline is off."""
        self._cancel_head_deadline()
        return super().get_environ()

    def _cancel_head_deadline(self) -> None:
        deadline = getattr(self, "_head_deadline", None)
        if deadline is not None:
            deadline.cancel()
            self._head_deadline = None


def head_deadline_protocol(seconds: float) -> type[HeadDeadlineProtocol]:
    """Return the protocol class for eventlet.wsgi.server with a ``seconds`` head deadline (0: none)."""
    return type("HeadDeadlineProtocol", (HeadDeadlineProtocol,), {"head_timeout": seconds})
