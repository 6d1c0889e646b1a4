"""Incoming Engine.IO messages: refuse binary Socket.IO packets, and let other clients run between packets."""

from __future__ import annotations

import logging
import time
from typing import Any

logger = logging.getLogger(__name__)

# Socket.IO BINARY_EVENT and BINARY_ACK: the packet type is the first character.
BINARY_PACKET_TYPES = ("5", "6")
# How long packets are handled before other green threads get a turn, in seconds.
TURN = 0.001


def is_binary(data: Any) -> bool:
    """Return whether an Engine.IO message is a binary Socket.IO packet or one of its attachments."""
    return isinstance(data, (bytes, bytearray)) or (isinstance(data, str) and data[:1] in BINARY_PACKET_TYPES)


class IncomingPacketFilter:
    """Wraps the Engine.IO ``message`` handler of ``eio`` (python-socketio's packet decoder).

    The chat has no binary events. python-socketio keeps the attachments of an announced binary
    packet until all of them arrived, and the announcement may promise up to 9,999,999,999
    (CVE-2026-48804 limited this in 5.16.2; socket.io-parser caps it at 10, CVE-2026-33151), so
    a client could make the server hold attachment after attachment. Binary packets are
    dropped before they reach the decoder.

    Packets python-socketio cannot decode are dropped with a debug log line instead of an error
    traceback each.

    Engine.IO reads a WebSocket in a loop that only yields to other green threads when the
    socket has no data buffered, so a flooding client would keep the others waiting: once
    packets have been handled for ``TURN`` since the last yield, this yields. Not yielding after
    every packet saves a hub switch per packet and lets the replies to packets that arrived
    together leave in one write.
    """

    def __init__(self, eio: Any) -> None:
        self.eio = eio
        self._last_yield = 0.0
        self._receive = eio.handlers["message"]
        eio.handlers["message"] = self.on_message

    def on_message(self, sid: str, data: Any) -> Any:
        """Engine.IO message handler: decode and dispatch text packets only."""
        if is_binary(data):
            logger.debug("ignored a binary packet from %s", sid)
            return None
        try:
            return self._receive(sid, data)
        except Exception:
            # python-socketio raises on packets it cannot decode (broken JSON, an event that is
            # not a list, ...). The chat's own handlers answer every fault themselves, so what
            # gets here is client garbage: logged quietly, so a client cannot flood the log.
            logger.debug("dropped a malformed packet from %s: %.200r", sid, data, exc_info=True)
            return None
        finally:
            now = time.monotonic()
            if now - self._last_yield >= TURN:
                self._last_yield = now
                self.eio.sleep(0)
