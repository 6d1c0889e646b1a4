"""Incoming Engine.IO messages: refuse binary Socket.IO packets, close on invalid ones, let other clients run."""

from __future__ import annotations

import logging
import time
from typing import Any

from socketio.packet import ACK, CONNECT, DISCONNECT, EVENT

from . import namespaces
from .packetrules import InvalidPacket, decode

logger = logging.getLogger(__name__)

# Socket.IO BINARY_EVENT and BINARY_ACK: the packet type is the first character.
BINARY_PACKET_TYPES = ("5", "6")
# How long packets are handled before other green threads get a turn, in seconds.
TURN = 0.001


def is_binary(data: Any) -> bool:
    """Return whether an Engine.IO message is a binary Socket.IO packet or one of its attachments."""
    return isinstance(data, (bytes, bytearray)) or (isinstance(data, str) and data[:1] in BINARY_PACKET_TYPES)


class IncomingPacketFilter:
    """Takes the place of the Engine.IO ``message`` handler of ``eio`` (python-socketio's packet dispatcher).

    The chat has no binary events. python-socketio keeps the attachments of an announced binary
    packet until all of them arrived, and the announcement may promise up to 9,999,999,999
    (CVE-2026-48804 limited this in 5.16.2; socket.io-parser caps it at 10, CVE-2026-33151), so
    a client could make the server hold attachment after attachment. Binary packets are
    dropped before they reach the decoder.

    Every other packet is decoded once, here, and checked as socket.io 4.8 checks it: a packet
    its parser would not decode (``packetrules``), or one that does not fit the session's state
    (an EVENT, ACK or DISCONNECT for a namespace the client is not connected to, a second
    CONNECT to one it is, a CONNECT_ERROR from a client) closes the connection, as the Node
    server's ``Client.ondata``/``ondecoded`` do. A CONNECT to an unknown namespace gets
    socket.io's error object (``namespaces``). Well-formed packets go to python-socketio's
    handlers as its ``_handle_eio_message`` would send them.

    Engine.IO reads a WebSocket in a loop that only yields to other green threads when the
    socket has no data buffered, so a flooding client would keep the others waiting: once
    packets have been handled for ``TURN`` since the last yield, this yields. Not yielding after
    every packet saves a hub switch per packet and lets the replies to packets that arrived
    together leave in one write.
    """

    def __init__(self, eio: Any) -> None:
        self.eio = eio
        self._last_yield = 0.0
        self.server = eio.handlers["message"].__self__  # python-socketio's Server
        eio.handlers["message"] = self.on_message

    def on_message(self, sid: str, data: Any) -> None:
        """Engine.IO message handler: decode, check and dispatch text packets only."""
        if is_binary(data):
            logger.debug("ignored a binary packet from %s", sid)
            return
        try:
            self.dispatch(sid, data)
        except InvalidPacket as exc:
            self.close(sid, str(exc), data)
        except Exception:
            # The chat's own handlers answer every fault themselves; kept quiet as before, so that
            # whatever a client still finds to make a handler raise cannot flood the log.
            logger.debug("a handler raised on a packet from %s: %.200r", sid, data, exc_info=True)
        finally:
            now = time.monotonic()
            if now - self._last_yield >= TURN:
                self._last_yield = now
                self.eio.sleep(0)

    def dispatch(self, eio_sid: str, data: str) -> None:
        """Hand a packet to python-socketio's handler for its type; raise InvalidPacket if it may not be sent now."""
        server = self.server
        packet = decode(server.packet_class, data)
        namespace = packet.namespace or "/"
        connected = namespaces.is_connected(server, eio_sid, namespace)
        if packet.packet_type == CONNECT:
            if connected:
                raise InvalidPacket(f"a CONNECT to {namespace}, already connected")
            if not namespaces.is_known(server, namespace):
                namespaces.refuse_unknown(server, eio_sid, namespace)
                return
            server._handle_connect(eio_sid, namespace, packet.data)
            return
        if not connected:
            raise InvalidPacket(f"a packet for {namespace:.100}, not connected")
        if packet.packet_type == EVENT:
            server._handle_event(eio_sid, namespace, packet.id, packet.data)
        elif packet.packet_type == ACK:
            server._handle_ack(eio_sid, namespace, packet.id, packet.data)
        elif packet.packet_type == DISCONNECT:
            server._handle_disconnect(eio_sid, namespace, server.reason.CLIENT_DISCONNECT)

    def close(self, sid: str, problem: str, data: str) -> None:
        """Close the Engine.IO session ``sid`` that sent an invalid packet, as socket.io's Node server does."""
        # Quietly: a client must not be able to flood the log.
        logger.debug("closed %s for an invalid Socket.IO packet (%s): %.200r", sid, problem, data)
        engineio_socket = self.eio.sockets.get(sid)
        if engineio_socket is not None:
            # Not abort: the CLOSE packet ends a waiting long-polling GET, and the WebSocket writer.
            # A server's disconnect, not a transport error: a client that broke the protocol gets no
            # connection state recovery (socket.io's "parse error" is not a recoverable reason either).
            engineio_socket.close(wait=False, reason=self.eio.reason.SERVER_DISCONNECT)
