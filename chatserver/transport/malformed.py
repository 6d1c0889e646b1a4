"""Client input that is no valid Engine.IO packet: refused where it arrives, without a traceback.

- WebSocket: python-engineio decodes each message outside the ``try`` that guards the rest of its
  reading loop (``Socket._websocket_handler``), so a text message that is not an Engine.IO packet
  (``abc``, an empty message, broken base64 after ``b``) raised out of the WSGI app: eventlet.wsgi
  then wrote ``HTTP/1.1 500`` and the traceback onto the upgraded connection, and the Engine.IO
  session stayed open until its pings ran out. Socket.IO's Node server closes such a connection;
  here it is closed with a WebSocket close frame, status 1002 (protocol error), and engine.io ends
  the session as for any closed connection. So are the packets python-engineio decodes but
  socket.io's Node server closes the connection for (engine.io 6, ``Socket.onPacket``): the types
  7 to 9, which engine.io-parser decodes as a parse error, and a PING from the client ("invalid
  heartbeat direction" in Engine.IO v4), except the ``2probe`` of an upgrade. python-engineio
  silently ignored both.
- Long-polling: engine.io takes what raises while it decodes a POST body for an error of its own,
  logs it at ERROR with the traceback and answers 200, for every such POST. Here it is answered
  as engine.io answers a packet of an unknown type: the session is closed and the POST gets 400.
"""

from __future__ import annotations

import base64
import functools
import logging
from collections.abc import Callable
from typing import Any

from engineio.exceptions import EngineIOError

from .newsockets import on_each_new_socket
from .upgrade import without_noops

logger = logging.getLogger(__name__)

# python-engineio takes a text packet's type from its first character with int(), or decodes
# base64 after a "b". Types 7-9 decode (engine.io then ignores them); non-ASCII digits int()
# would take are no Engine.IO packet types and are refused too.
PACKET_TYPE_DIGITS = frozenset("0123456789")
# Decodable, but socket.io's Node server closes the connection for them (see the module's text).
NOT_ENGINEIO_V4_TYPES = frozenset("789")
PING = "2"
UPGRADE_PROBE = "2probe"
# WebSocket close status (RFC 6455, 7.4.1).
PROTOCOL_ERROR = 1002
PROTOCOL_ERROR_REASON = "not an Engine.IO packet"


def undecodable(message: Any) -> bool:
    """Return whether python-engineio would fail to decode ``message``, a WebSocket message or polling packet."""
    if not isinstance(message, str):
        return False  # bytes are a binary MESSAGE packet; None is a closed connection
    if not message:
        return True
    if message[0] in PACKET_TYPE_DIGITS:
        return False
    if message[0] == "b":
        try:
            base64.b64decode(message[1:])
        except ValueError:  # binascii.Error
            return True
        return False
    return True


def refused_over_websocket(message: Any, upgrading: bool = False) -> bool:
    """Return whether socket.io's Node server closes a WebSocket that sent ``message``.

    ``upgrading``: the socket is being upgraded to this WebSocket, so its ``2probe`` is expected.
    """
    if undecodable(message):
        return True
    if not isinstance(message, str):
        return False
    if message[0] in NOT_ENGINEIO_V4_TYPES:
        return True
    return message[0] == PING and not (upgrading and message == UPGRADE_PROBE)


def checked_websocket_class(base: type) -> type:
    """Return a subclass of the async mode's WebSocket app whose Engine.IO handler never reads an invalid packet
    and never sends a NOOP (``upgrade.without_noops``).

    It must be the innermost of the WebSocket classes (see ``install``): the ones around it see
    the Engine.IO handler as given, a bound method of the socket being upgraded.
    """

    class CheckedWebSocket(base):
        """engine.io's WebSocket WSGI app; an invalid Engine.IO packet closes the connection (1002)."""

        def __init__(self, handler: Callable, server: Any, *args: Any, **kwargs: Any) -> None:
            super().__init__(self._checked_handler(handler), server, *args, **kwargs)

        def _checked_handler(self, handler: Callable) -> Callable:
            engineio_socket = getattr(handler, "__self__", None)  # the handler is a bound method of it

            def checked_handler(ws: Any) -> Any:
                wait = ws.wait

                def checked_wait() -> Any:
                    message = wait()
                    if refused_over_websocket(message, getattr(engineio_socket, "upgrading", False)):
                        logger.debug("closed a WebSocket that sent %.100r: %s", message, PROTOCOL_ERROR_REASON)
                        self.close_for_protocol_error(ws)
                        return None  # engine.io's "closed by the client": it ends the session
                    return message

                ws.wait = checked_wait
                ws.send = without_noops(ws.send)
                return handler(ws)

            return checked_handler

        def close_for_protocol_error(self, ws: Any) -> None:
            """Send the close frame 1002 on ``ws`` (simple-websocket, under threading and gevent)."""
            connection = getattr(ws, "ws", None)
            if connection is not None and getattr(connection, "connected", False):
                connection.close(reason=PROTOCOL_ERROR, message=PROTOCOL_ERROR_REASON)
            else:
                ws.close()

    return CheckedWebSocket


class UndecodablePost(EngineIOError):
    """A long-polling POST body python-engineio cannot decode."""


def refuse_undecodable_posts(eio: Any) -> None:
    """Have every new Engine.IO socket of ``eio`` refuse undecodable POST bodies.

    Each socket's ``handle_post_request`` (engine.io reads and decodes the body there) is wrapped:
    what decoding raises (ValueError, UnicodeDecodeError, binascii.Error; KeyError for a JSONP
    body without ``d=``) becomes an ``EngineIOError``, which engine.io answers with 400 after
    closing the session. One debug line is logged instead of an ERROR traceback.
    """

    def adopt(engineio_socket: Any) -> None:
        engineio_socket.handle_post_request = functools.partial(
            _handle_post_request, engineio_socket.handle_post_request, engineio_socket.sid)

    on_each_new_socket(eio, adopt)


def _handle_post_request(handle_post_request: Callable[[dict], Any], sid: str, environ: dict) -> Any:
    """Run engine.io's POST handler; raise UndecodablePost if the body cannot be decoded."""
    try:
        return handle_post_request(environ)
    except (ValueError, KeyError) as exc:
        # The chat's packet handlers never raise into engine.io (packetfilter), so this is the body.
        logger.debug("refused a long-polling POST from %s for %s: not an Engine.IO payload (%s: %.200s)",
                     environ.get("REMOTE_ADDR", "?"), sid, type(exc).__name__, exc)
        raise UndecodablePost(str(exc)) from None
