"""The Socket.IO side of the chat: unpack each event, ask the ChatService, emit its Outbox."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from flask import request
from flask_socketio import Namespace

from .chat import ONLINE_ROOM, ChatService, Outbox, user_room
from .chat.outbox import EVERY_CHAT_ROOM, is_chat_room
from .proxies import PROXY_ADDR, PROXY_PORT

logger = logging.getLogger(__name__)

LIFECYCLE_EVENTS = frozenset({"connect", "disconnect"})
# Room lists go to every logged-in socket, and every join changes a member count: 5,000 people
# joining one room would be 5,000 lists to 5,000 sockets each. A node sends at once when it has
# not sent for this long, else once more at the end of the interval, with every change since.
ROOM_LIST_INTERVAL = 0.2


class ChatNamespace(Namespace):
    """Flask-SocketIO class-based namespace with the chat's event handlers; holds no state.

    ``on_connect`` and ``on_disconnect`` run as Flask-SocketIO handlers, inside a request context.
    Client events (``on_login``, ``on_logout``, ``on_message``) take the socket id first, as
    python-socketio's own namespaces do, and run without one: building a Flask request context
    costs about 20 µs an event and the chat needs nothing from it.
    """

    def __init__(self, namespace: str, service: ChatService, recovery: Any = None, presence_grace: float = 0.0) -> None:
        super().__init__(namespace)
        self.service = service
        # The transport's connection state recovery (transport/recovery.py), None when it is off.
        self.recovery = recovery
        self.presence_grace = presence_grace if recovery is not None else 0.0
        self._lists_sent_at = -ROOM_LIST_INTERVAL
        self._lists_due = False
        # ``observe_event(event, code, seconds)`` once per client event, when the metrics are on.
        self.observe_event: Callable[[str, str, float], None] | None = None
        self._client_handlers = {
            "login": self.on_login,
            "logout": self.on_logout,
            "message": self.on_message,
            "register": self.on_register,
            "history": self.on_history,
            "room": self.on_room,
            "typing": self.on_typing,
            "read": self.on_read,
            "conversations": self.on_conversations,
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
        return self._handle(sid, event, payload)

    def on_connect(self, auth: Any = None) -> None:
        """Log the peer's address and port, as the seed does (the client's and the proxy's behind one)."""
        environ = request.environ
        address = environ.get("REMOTE_ADDR", "")
        proxy = environ.get(PROXY_ADDR)
        if proxy is None:
            logger.info("connection %s from %s:%s", request.sid, address, environ.get("REMOTE_PORT"))
        else:
            logger.info("connection %s from %s via %s:%s", request.sid, address, proxy, environ.get(PROXY_PORT))
        # A client may ask for its `response` texts in another language than the server's default.
        language = auth.get("lang") if isinstance(auth, dict) else None
        recovered, session = self.recovery.take_recovered(request.sid) if self.recovery else (False, None)
        if recovered:
            # The transport gave the socket its sid, rooms and missed events back: now its login.
            logger.info("recovered %s", request.sid)
            self.service.choose_language(request.sid, language)
            self._deliver(request.sid, self.service.resume(request.sid, address, session))
            self.recovery.settled(request.sid)
        else:
            self.service.connect(request.sid, address, language)

    def on_disconnect(self, reason: Any = None) -> None:
        """Disconnecting logs the socket out, without a response; a drop keeps the user online for the grace."""
        sid = request.sid
        logger.debug("disconnection %s (%s)", sid, reason)
        recovery = self.recovery
        if recovery is None or not recovery.is_drop(sid, self.namespace, reason):
            if recovery is not None:
                recovery.forget(sid)
            self._deliver(sid, self.service.disconnect(sid))
            return
        # Kept with the rooms it is in now, before python-socketio takes it out of them.
        recovery.keep(sid, self.namespace, self.server.manager.get_rooms(sid, self.namespace) + [None],
                      self.service.session_of(sid))
        if self.presence_grace <= 0:
            self._deliver(sid, self.service.disconnect(sid))
            return
        dropped = self.service.drop(sid)
        self.server.start_background_task(self._end_grace_after, sid, dropped)

    def in_grace(self, sid: str) -> bool:
        """Whether the user of the dropped socket ``sid`` is still online (another node asks, to take it over)."""
        return self.service.in_grace(sid)

    def handed_over(self, sid: str) -> None:
        """Another node logged the dropped socket ``sid`` in: forget it here, without ``offline``."""
        self.service.hand_over(sid)

    def _end_grace_after(self, sid: str, dropped: Any) -> None:
        """After the presence grace a dropped socket that did not come back is logged out (``offline``)."""
        self.server.sleep(self.presence_grace)
        self._deliver(None, self.service.end_grace(sid, dropped))

    def on_login(self, sid: str, payload: Any = None, *_: Any) -> dict | None:
        """`login` {id, password?, alias?}: map this socket to a user id."""
        return self._handle(sid, "login", payload)

    def on_logout(self, sid: str, payload: Any = None, *_: Any) -> dict | None:
        """`logout` {everywhere?}: undo the login of this socket."""
        return self._handle(sid, "logout", payload)

    def on_message(self, sid: str, payload: Any = None, *_: Any) -> dict | None:
        """`message` {recepient, command?, type?, data}: to ALL or to one user."""
        return self._handle(sid, "message", payload)

    def on_register(self, sid: str, payload: Any = None, *_: Any) -> dict | None:
        """`register` {id, password, alias?}: create an account."""
        return self._handle(sid, "register", payload)

    def on_history(self, sid: str, payload: Any = None, *_: Any) -> dict | None:
        """`history` {recepient, command?, before?, after?, limit?}: a page of one conversation."""
        return self._handle(sid, "history", payload)

    def on_room(self, sid: str, payload: Any = None, *_: Any) -> dict | None:
        """`room` {command, roomId, roomName?, private?, userId?}: the book's rooms."""
        return self._handle(sid, "room", payload)

    def on_typing(self, sid: str, payload: Any = None, *_: Any) -> dict | None:
        """`typing` {recepient, command?, typing}: tell the conversation's others."""
        return self._handle(sid, "typing", payload)

    def on_read(self, sid: str, payload: Any = None, *_: Any) -> dict | None:
        """`read` {recepient, command?, id}: keep a read mark and tell the others."""
        return self._handle(sid, "read", payload)

    def on_conversations(self, sid: str, payload: Any = None, *_: Any) -> dict | None:
        """`conversations` {}: the caller's conversations with unread counts."""
        return self._handle(sid, "conversations", payload)

    def _handle(self, sid: str, event: Any, payload: Any) -> dict | None:
        """Have the service decide one client event, carry out its Outbox and return the reply."""
        observe = self.observe_event
        if observe is None:
            return self._deliver(sid, self.service.handle(sid, event, payload))
        started = time.perf_counter()
        outbox = self.service.handle(sid, event, payload)
        answer = self._deliver(sid, outbox)  # timed too: a broadcast's fan-out is part of its cost
        seconds = time.perf_counter() - started
        reply = outbox.reply
        # Clients name events freely: only ours become labels, or a client could add series without end.
        name = event if isinstance(event, str) and event in self._client_handlers else "unknown"
        observe(name, reply.get("code", "") if reply else "", seconds)
        return answer

    def node_handlers(self) -> dict:
        """What this node does when another node says so through the message queue (see ``_tell_nodes``)."""
        return {"move": lambda data: self._move(*data), "room-lists": lambda data: self._room_lists_changed(),
                "kick": self._kick_here}

    def kick(self, user: str) -> None:
        """Disconnect every socket of ``user``, on every node (the operator's `kick` and `ban`)."""
        self._kick_here(user)
        self._tell_nodes("kick", user)

    def _kick_here(self, user: str) -> None:
        for sid in self.service.dropped_of(user):
            # A dropped socket of the user goes offline now and does not come back by recovery.
            self.recovery.forget(sid)
            self._deliver(None, self.service.end_grace(sid))
        sids = self._participants(user_room(user))
        for sid in sids:
            self.server.disconnect(sid, namespace=self.namespace, ignore_queue=True)
        if sids:
            logger.info("kicked %s: %d socket(s) on this node disconnected", user, len(sids))

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
            if room == EVERY_CHAT_ROOM:
                for chat_room in self._chat_rooms(sid):
                    server.leave_room(sid, chat_room, namespace=namespace)
            else:
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
        for move in outbox.moves:
            self._move(move.of_room, move.room, move.join)
            if move.join:
                self._lend_like(move.of_room, move.room)
            self._tell_nodes("move", [move.of_room, move.room, move.join])
        if outbox.lists_changed:
            self._room_lists_changed()
            self._tell_nodes("room-lists", None)
        return outbox.reply

    def _chat_rooms(self, sid: str) -> list[str]:
        rooms = self.server.manager.get_rooms(sid, self.namespace)
        return [room for room in rooms if is_chat_room(room)]

    def _move(self, of_room: str, room: str, join: bool) -> None:
        """This node's sockets in ``of_room`` enter (or leave) ``room``."""
        server, namespace = self.server, self.namespace
        for sid, _ in list(server.manager.get_participants(namespace, of_room)):
            if join:
                server.enter_room(sid, room, namespace=namespace)
            else:
                server.leave_room(sid, room, namespace=namespace)

    def _room_lists_changed(self) -> None:
        """Send this node's sockets their room lists now, or at the end of the interval if they just had them."""
        self.service.forget_room_list()
        if self._lists_due:
            return
        wait = self._lists_sent_at + ROOM_LIST_INTERVAL - time.monotonic()
        if wait <= 0:
            self._push_room_lists()
        else:
            self._lists_due = True
            self.server.start_background_task(self._push_room_lists_after, wait)

    def _push_room_lists_after(self, delay: float) -> None:
        self.server.sleep(delay)
        self._lists_due = False
        self._push_room_lists()

    def _push_room_lists(self) -> None:
        self._lists_sent_at = time.monotonic()
        self._deliver(None, self.service.room_lists(self._participants))

    def _participants(self, room: str) -> list[str]:
        """This node's sockets in ``room``."""
        return [sid for sid, _ in self.server.manager.get_participants(self.namespace, room)]

    def _lend_like(self, of_room: str, room: str) -> None:
        """In a cluster, the nodes with sockets in ``of_room`` get ``room``'s emits before they handle the move."""
        lend = getattr(self.server.manager, "lend_like", None)
        if lend is not None:
            lend(of_room, room)

    def _tell_nodes(self, name: str, data: Any) -> None:
        """Have every other node run its ``node_handlers()[name](data)``; nothing to do on one node."""
        publish = getattr(self.server.manager, "to_other_nodes", None)
        if publish is not None:
            publish(name, data)
