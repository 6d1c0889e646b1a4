"""Which Socket.IO packets from a client are well formed, as socket.io 4.8's parser decides.

socket.io-parser (``Decoder.decodeString`` and ``isPayloadValid``) throws on these, and the
Node server then closes the connection; python-socketio decodes many of them and answers,
ignores or raises on them. The Socket.IO protocol (v5) says: an EVENT's payload "is mandatory
and MUST be a non-empty array", an ACK's "MUST be an array", a DISCONNECT has none, a CONNECT's
is an object. Two deliberate differences from socket.io-parser: reserved event names
(``connect``, ``disconnect``, ...) are left to the chat, which answers them ``400`` as
docs/protocol.md promises; and binary packets never get here (packetfilter drops them).
"""

from __future__ import annotations

from typing import Any

from socketio.packet import ACK, CONNECT, DISCONNECT, EVENT

# The packet types a client may send once binary ones are dropped; CONNECT_ERROR is server-only.
CLIENT_PACKET_TYPES = "0123"


class InvalidPacket(ValueError):
    """A Socket.IO packet that socket.io 4.8 would not decode: the connection is closed."""


def is_event_name(name: Any) -> bool:
    """Return whether ``name`` may name an event: a string, or a number as socket.io-parser allows."""
    return isinstance(name, str) or (isinstance(name, (int, float)) and not isinstance(name, bool))


def payload_problem(packet_type: int, data: Any, attachments: int) -> str | None:
    """Return what is wrong with a decoded packet's payload, or None when socket.io 4.8 takes it."""
    if attachments:
        return "an attachment count on a packet that is not binary"
    if packet_type == CONNECT:
        return None if data is None or isinstance(data, dict) else "a CONNECT payload that is not an object"
    if packet_type == DISCONNECT:
        return None if data is None else "a DISCONNECT with a payload"
    if packet_type == EVENT:
        if not isinstance(data, list) or not data:
            return "an EVENT payload that is not a non-empty array"
        return None if is_event_name(data[0]) else "an EVENT name that is neither a string nor a number"
    if packet_type == ACK:
        return None if isinstance(data, list) else "an ACK payload that is not an array"
    return "a packet type a client does not send"


def decode(packet_class: type, encoded: str) -> Any:
    """Decode a text Socket.IO packet with ``packet_class``; raise InvalidPacket if socket.io 4.8 would not."""
    if not encoded or encoded[0] not in CLIENT_PACKET_TYPES:
        # An empty message would decode as an EVENT without data; int() takes non-ASCII digits.
        raise InvalidPacket("not a Socket.IO packet type a client sends")
    try:
        packet = packet_class(encoded_packet=encoded)
    except Exception as exc:  # ValueError (broken JSON, ids), RecursionError (deep nesting), ...
        raise InvalidPacket(f"undecodable ({type(exc).__name__})") from None
    problem = payload_problem(packet.packet_type, packet.data, packet.attachment_count)
    if problem:
        raise InvalidPacket(problem)
    return packet
