"""The Socket.IO side of the chat: unpack each event, ask the ChatService, emit its Outbox."""

from __future__ import annotations

import logging
from typing import Any

from flask import request
from flask_socketio import Namespace

from .chat import ChatService, Outbox

logger = logging.getLogger(__name__)

CLIENT_EVENTS = frozenset({"login", "logout", "message"})
LIFECYCLE_EVENTS = frozenset({"connect", "disconnect"})


class ChatNamespace(Namespace):
    """Flask-SocketIO class-based namespace with the chat's event handlers; holds no state."""

    def __init__(self, namespace: str, service: ChatService) -> None:
        super().__init__(namespace)
        self.service = service

    def trigger_event(self, event: Any, *args: Any) -> Any:
        """Route lifecycle and client events; anything else is answered as unknown."""
        sid = args[0]
        if event in CLIENT_EVENTS:
            return super().trigger_event(event, *args)
        # python-socketio dispatches by name alone, so a client emitting "disconnect" would run
        # the lifecycle handler. Real lifecycle events only come while the socket is connecting
        # or disconnecting; client events only while it is fully connected.
        if event in LIFECYCLE_EVENTS and not self.server.manager.is_connected(sid, self.namespace):
            return super().trigger_event(event, *args)
        payload = args[1] if len(args) > 1 else None
        return self._deliver(sid, self.service.handle(sid, event, payload))

    def on_connect(self, auth: Any = None) -> None:
        """Log the peer's address and port, as the seed does."""
        environ = request.environ
        logger.info(
            "connection %s from %s:%s",
            request.sid,
            environ.get("REMOTE_ADDR"),
            environ.get("REMOTE_PORT"),
        )

    def on_disconnect(self, reason: Any = None) -> None:
        """Disconnecting logs the socket out, without a response."""
        logger.info("disconnection %s (%s)", request.sid, reason)
        self._deliver(request.sid, self.service.disconnect(request.sid))

    def on_login(self, payload: Any = None, *_: Any) -> dict | None:
        """`login` {id, password?, alias?}: map this socket to a user id."""
        return self._handle("login", payload)

    def on_logout(self, *_: Any) -> dict | None:
        """`logout`: undo the login of this socket."""
        return self._handle("logout")

    def on_message(self, payload: Any = None, *_: Any) -> dict | None:
        """`message` {recepient, command?, type?, data}: to ALL or to one user."""
        return self._handle("message", payload)

    def _handle(self, event: str, payload: Any = None) -> dict | None:
        return self._deliver(request.sid, self.service.handle(request.sid, event, payload))

    def _deliver(self, sid: str, outbox: Outbox) -> dict | None:
        """Carry out an Outbox; return the reply, which python-socketio sends as the ack."""
        server, namespace = self.server, self.namespace
        for room in outbox.leaves:
            server.leave_room(sid, room, namespace=namespace)
        for room in outbox.joins:
            server.enter_room(sid, room, namespace=namespace)
        if outbox.reply is not None and outbox.respond:
            server.emit("response", outbox.reply, to=sid, namespace=namespace)
        for delivery in outbox.deliveries:
            server.emit(delivery.event, delivery.payload, to=delivery.to, namespace=namespace)
        return outbox.reply
