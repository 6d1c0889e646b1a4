"""The Socket.IO side of the chat: unpack each event, ask the ChatService, emit its Outbox."""

from __future__ import annotations

import logging
from typing import Any

from flask import request
from flask_socketio import Namespace

from .chat import ONLINE_ROOM, ChatService, Outbox
from .proxies import PROXY_ADDR, PROXY_PORT

logger = logging.getLogger(__name__)

LIFECYCLE_EVENTS = frozenset({"connect", "disconnect"})


class ChatNamespace(Namespace):
    """Flask-SocketIO class-based namespace with the chat's event handlers; holds no state.

    ``on_connect`` and ``on_disconnect`` run as Flask-SocketIO handlers, inside a request context.
    Client events (``on_login``, ``on_logout``, ``on_message``) take the socket id first, as
    python-socketio's own namespaces do, and run without one: building a Flask request context
    costs about 20 µs an event and the chat needs nothing from it.
    """

    def __init__(self, namespace: str, service: ChatService) -> None:
        super().__init__(namespace)
        self.service = service
        self._client_handlers = {
            "login": self.on_login,
            "logout": self.on_logout,
            "message": self.on_message,
            "register": self.on_register,
            "history": self.on_history,
        }

    def trigger_event(self, event: Any, *args: Any) -> Any:
        """Route lifecycle and client events; any other event is answered as unknown."""
        sid = args[0]
        # A client may name an event with any JSON value: only strings are looked up.
        if isinstance(event, str):
            # python-socketio dispatches by name alone, so a client emitting "disconnect" would run
            # the lifecycle handler. Real lifecycle events only come while the socket is connecting
            # or disconnecting; client events only while it is fully connected.
            if event in LIFECYCLE_EVENTS and not self.server.manager.is_connected(sid, self.namespace):
                return super().trigger_event(event, *args)
            handler = self._client_handlers.get(event)
            if handler is not None:
                return handler(*args)
        payload = args[1] if len(args) > 1 else None
        return self._deliver(sid, self.service.handle(sid, event, payload))

    def on_connect(self, auth: Any = None) -> None:
        """Log the peer's address and port, as the seed does (the client's and the proxy's behind one)."""
        environ = request.environ
        address = environ.get("REMOTE_ADDR", "")
        proxy = environ.get(PROXY_ADDR)
        if proxy is None:
            logger.info("connection %s from %s:%s", request.sid, address, environ.get("REMOTE_PORT"))
        else:
            logger.info("connection %s from %s via %s:%s", request.sid, address, proxy, environ.get(PROXY_PORT))
        self.service.connect(request.sid, address)

    def on_disconnect(self, reason: Any = None) -> None:
        """Disconnecting logs the socket out, without a response."""
        logger.debug("disconnection %s (%s)", request.sid, reason)
        self._deliver(request.sid, self.service.disconnect(request.sid))

    def on_login(self, sid: str, payload: Any = None, *_: Any) -> dict | None:
        """`login` {id, password?, alias?}: map this socket to a user id."""
        return self._deliver(sid, self.service.handle(sid, "login", payload))

    def on_logout(self, sid: str, payload: Any = None, *_: Any) -> dict | None:
        """`logout` {everywhere?}: undo the login of this socket."""
        return self._deliver(sid, self.service.handle(sid, "logout", payload))

    def on_message(self, sid: str, payload: Any = None, *_: Any) -> dict | None:
        """`message` {recepient, command?, type?, data}: to ALL or to one user."""
        return self._deliver(sid, self.service.handle(sid, "message", payload))

    def on_register(self, sid: str, payload: Any = None, *_: Any) -> dict | None:
        """`register` {id, password, alias?}: create an account."""
        return self._deliver(sid, self.service.handle(sid, "register", payload))

    def on_history(self, sid: str, payload: Any = None, *_: Any) -> dict | None:
        """`history` {recepient, command?, before?, after?, limit?}: a page of one conversation."""
        return self._deliver(sid, self.service.handle(sid, "history", payload))

    def mute_presence(self) -> None:
        """Stop presence events reaching this node's sockets, which are all about to be disconnected.

        Telling each of N leaving sockets that every other one left is N² deliveries: seconds of
        shutdown at a few thousand clients. Other nodes still get every offline event.
        """
        for sid, _ in list(self.server.manager.get_participants(self.namespace, ONLINE_ROOM)):
            self.server.leave_room(sid, ONLINE_ROOM, namespace=self.namespace)

    def deliver(self, outbox: Outbox) -> None:
        """Carry out an Outbox that belongs to no socket (presence changes a shared store found)."""
        self._deliver(None, outbox)

    def _deliver(self, sid: str | None, outbox: Outbox) -> dict | None:
        """Carry out an Outbox; return the reply, which python-socketio sends as the ack."""
        server, namespace = self.server, self.namespace
        for room in outbox.leaves:
            server.leave_room(sid, room, namespace=namespace)
        for room in outbox.joins:
            server.enter_room(sid, room, namespace=namespace)
        # The caller's socket is on this node: what goes to it alone need not cross the message queue.
        if outbox.reply is not None and outbox.respond:
            server.emit("response", outbox.reply, to=sid, namespace=namespace, ignore_queue=True)
        for delivery in outbox.deliveries:
            local = delivery.local or (sid is not None and delivery.to == sid)
            server.emit(delivery.event, delivery.payload, to=delivery.to, skip_sid=delivery.skip, namespace=namespace,
                        ignore_queue=local)
        return outbox.reply
