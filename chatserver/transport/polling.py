"""Long-polling GETs answered as engine.io 6 answers them (``lib/transports/polling.ts``, ``lib/socket.ts``).

python-engineio differs from the Node server in three ways, each corrected per socket here:
- a GET arriving after the session's ping timed out, before the server's sweep noticed, was
  answered ``200`` with the unanswered PING; engine.io 6 closed the session when the ping timed
  out, so the GET gets ``400``;
- a second GET while one waits was taken as another waiter on the queue; engine.io 6 refuses it
  with ``400`` and closes the session ("overlap from client"), which answers the waiting GET with
  a CLOSE packet;
- a GET waiting when the session closes without a CLOSE packet (the client POSTed ``1``, or was
  dropped) was answered ``200`` with an empty body; engine.io 6 answers it with a NOOP (``6``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from engineio.exceptions import EngineIOError
from engineio.packet import NOOP, Packet

logger = logging.getLogger(__name__)


class RefusedPoll(EngineIOError):
    """A long-polling GET engine.io 6 answers with 400; python-engineio then ends the session."""


def is_upgrade_request(engineio_socket: Any, environ: dict) -> bool:
    """Return whether a GET asks to upgrade the session, as ``Socket.handle_get_request`` tells."""
    connections = [token.strip() for token in environ.get("HTTP_CONNECTION", "").lower().split(",")]
    return "upgrade" in connections and environ.get("HTTP_UPGRADE", "").lower() in engineio_socket.upgrade_protocols


class PolledSocket:
    """One Engine.IO socket's GET handler: refuses late and overlapping GETs, never answers an empty body."""

    def __init__(self, engineio_socket: Any) -> None:
        self.engineio_socket = engineio_socket
        self._handle_get_request: Callable[[dict, Callable], Any] = engineio_socket.handle_get_request
        self.waiting = False  # a GET is waiting for packets
        engineio_socket.handle_get_request = self.handle_get_request

    def handle_get_request(self, environ: dict, start_response: Callable) -> Any:
        """engine.io's ``Socket.handle_get_request``, answering late, overlapping and closing GETs as engine.io 6."""
        engineio_socket = self.engineio_socket
        if is_upgrade_request(engineio_socket, environ):
            return self._handle_get_request(environ, start_response)
        if not engineio_socket.check_ping_timeout():  # closes the session when the ping timed out
            raise RefusedPoll("the session's ping timed out")
        if self.waiting:
            logger.debug("closed %s: a second long-polling GET while one waits", engineio_socket.sid)
            engineio_socket.close(wait=False, reason=engineio_socket.server.reason.TRANSPORT_ERROR)
            raise RefusedPoll("overlapping GET")
        self.waiting = True
        try:
            packets = self._handle_get_request(environ, start_response)
        finally:
            self.waiting = False
        if isinstance(packets, list) and not packets:
            # engine.io's queue ended without a CLOSE packet: the session closed under this GET.
            return [Packet(NOOP)]
        return packets
