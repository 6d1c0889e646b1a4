"""python-socketio's client manager without two costs that grow with the number online.

- Emits to a room: python-socketio's ``Manager.emit`` builds the packet once, then hands it to
  every recipient through ``Server._send_eio_packet``, engine.io's ``Server.send_packet`` and
  ``_get_socket`` before it reaches the socket's ``send``. A login sends a presence event to
  everyone online, so with 10,000 clients that chain was a third of the server's CPU.
- Disconnects: python-socketio finds a leaving socket's rooms by testing every room of the
  namespace, and every socket has a room of its own, so each disconnect cost O(clients online)
  and stopping with 19,400 clients took longer than the shutdown timeout. Here each socket's
  rooms are indexed as it enters and leaves them.

With connection state recovery on (``recovery``, see recovery.py) each emit also gets its
offset appended and is kept in the node's packet log, once per emit; a socket being restored
gets its sid, rooms and missed packets here, as it pre-connects.

See docs/performance.md.
"""

from __future__ import annotations

from typing import Any

from bidict import ValueDuplicationError
from engineio import packet as eio_packet
from socketio import Manager
from socketio import packet as sio_packet

from .holds import RoomHolds
from .recovery import Recovery


class FanOutManager(Manager):
    """python-socketio's in-memory client manager, emitting to each recipient's socket directly
    and keeping the rooms of each socket."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._rooms_of: dict[tuple[str, str], set] = {}  # (namespace, sid) -> rooms, None included
        # Packets handed to sockets and their bytes, read by the metrics. Added once per emit,
        # never per recipient: a broadcast makes 200,000 deliveries a second.
        self.deliveries = 0
        self.bytes_out = 0
        # Set by transport.install when CHATSERVER_RECOVERY_WINDOW is not 0.
        self.recovery: Recovery | None = None
        # Set by a cluster's queue, which sends each node only the emits to rooms it holds.
        self.holds: RoomHolds | None = None
        # Rooms whose emits may wait a moment to share each recipient's write with others (the
        # chat's presence room: a login's `online` goes to everyone; see eventlet/websocket.py).
        self.later_rooms: frozenset = frozenset()

    def pre_connect(self, eio_sid: str, namespace: str) -> str | None:
        """``BaseManager.pre_connect``; a socket restoring a dropped session gets its sid, rooms and missed packets."""
        recovery = self.recovery
        restoring = recovery.restoring(eio_sid) if recovery is not None else None
        if restoring is None:
            return super().pre_connect(eio_sid, namespace)
        session, offset = restoring
        sid = session.sid
        # Rooms entered and missed packets sent in one step under the log's lock: an emit is either
        # in the log before it (and among the missed) or reaches the socket live after it.
        with recovery.lock:
            try:
                self.basic_enter_room(sid, namespace, None, eio_sid=eio_sid)
            except ValueDuplicationError:
                return None  # as python-socketio: this Engine.IO session is in the namespace already
            for room in session.rooms:
                if room is not None:
                    self.basic_enter_room(sid, namespace, room, eio_sid=eio_sid)
            self.pending_connect.setdefault(namespace, []).append(sid)
            if session.remote_missed is not None:
                missed = recovery.catch_up(session)
            else:
                missed = recovery.log.after(offset, session)
            # Before the CONNECT reply, as socket.io sends them: the client plays them before "connect".
            for encoded in missed:
                self.server._send_eio_packet(eio_sid, eio_packet.Packet(eio_packet.MESSAGE, encoded))
        recovery.restored(session)
        self.deliveries += len(missed)
        return sid

    def basic_enter_room(self, sid: str, namespace: str, room: Any, eio_sid: Any = None) -> None:
        """Add a client to a room, and the room to the client's."""
        new = room not in self._rooms_of.get((namespace, sid), ())
        super().basic_enter_room(sid, namespace, room, eio_sid=eio_sid)
        self._rooms_of.setdefault((namespace, sid), set()).add(room)
        if new and room != sid and self.holds is not None:
            self.holds.add((room,))

    def basic_leave_room(self, sid: str, namespace: str, room: Any) -> None:
        """Remove a client from a room, and the room from the client's."""
        super().basic_leave_room(sid, namespace, room)
        rooms = self._rooms_of.get((namespace, sid))
        if rooms is not None and room in rooms:
            rooms.discard(room)
            if not rooms:
                del self._rooms_of[(namespace, sid)]
            if room != sid and self.holds is not None:
                self.holds.remove((room,))

    def rooms_of(self, sid: str, namespace: str) -> set:
        """Return the rooms a client is in, as the manager keeps them (do not change it)."""
        return self._rooms_of.get((namespace, sid), set())

    def get_rooms(self, sid: str, namespace: str) -> list:
        """Return the rooms a client is in (not the None room of all clients)."""
        return [room for room in self._rooms_of.get((namespace, sid), ()) if room is not None]

    def basic_disconnect(self, sid: str, namespace: str, **kwargs: Any) -> None:
        """``BaseManager.basic_disconnect``, leaving the client's own rooms instead of testing them all."""
        if namespace not in self.rooms:
            return
        for room in list(self._rooms_of.get((namespace, sid), ())):
            self.basic_leave_room(sid, namespace, room)
        # The rest as python-socketio does it.
        self.callbacks.pop(sid, None)
        for pending in (self.pending_connect, self.pending_disconnect):
            if sid in pending.get(namespace, ()):
                pending[namespace].remove(sid)
                if not pending[namespace]:
                    del pending[namespace]

    def _recipients(self, namespace: str, room: Any, skip: list) -> list[str]:
        """The Engine.IO sids of ``room``'s sockets (a list of rooms: of any of them), but those in ``skip``."""
        rooms = self.rooms.get(namespace, {})
        # get_participants copies the room and yields from a generator: several times the cost
        # for the one or two sockets of a user's room, on every one-to-one message. ``_fwdm`` is
        # a room's sid -> eio_sid dict, as python-socketio itself reads it.
        if isinstance(room, str) or room is None:
            members = rooms.get(room)
            return [] if members is None else [eio_sid for sid, eio_sid in members._fwdm.items() if sid not in skip]
        union: dict[str, str] = {}
        for name in room:
            members = rooms.get(name)
            if members is not None:
                union.update(members._fwdm)
        return [eio_sid for sid, eio_sid in union.items() if sid not in skip]

    def emit(
        self,
        event: str,
        data: Any,
        namespace: str,
        room: Any = None,
        skip_sid: Any = None,
        callback: Any = None,
        to: Any = None,
        message_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        """``Manager.emit``; emits with a callback or with binary data are left to python-socketio.

        ``message_id``: the cluster's id of an emit that came through the message queue (kept with it).
        """
        room = to or room
        recovery = self.recovery
        # No socket of this node in the namespace: python-socketio's emit finds no one, unless a
        # dropped session here must get it on its recovery (the node's only client dropped).
        if callback is not None or (namespace not in self.rooms and (recovery is None or not recovery.wanted(room))):
            return super().emit(event, data, namespace, room=room, skip_sid=skip_sid, callback=callback, **kwargs)
        skip = skip_sid if isinstance(skip_sid, list) else [skip_sid]
        # As Manager.emit: a tuple is several arguments, anything else one (None: none).
        arguments = list(data) if isinstance(data, tuple) else [] if data is None else [data]
        if recovery is not None:
            with recovery.lock:
                # Asked under the lock a restore holds while it sends the missed packets: asked
                # before it, a restore that finished meanwhile would get this one twice.
                restored = recovery.sent_already(message_id) if message_id is not None else None
                if restored is not None:
                    skip = [*skip, restored]  # a socket restored here had this one among its missed packets
                recipients = self._recipients(namespace, room, skip)
                if not recipients and not recovery.wanted(room):
                    return None
                # socket.io's offset: the last argument, kept by the client and sent back when it reconnects.
                log = recovery.log
                encoded = self.server.packet_class(
                    sio_packet.EVENT, namespace=namespace, data=[event, *arguments, log.reserve()]).encode()
                if isinstance(encoded, list):  # binary attachments: python-socketio sends them, unkept
                    return super().emit(event, data, namespace, room=room, skip_sid=skip_sid, **kwargs)
                log.append(encoded, room, skip, namespace, message_id)
            if not recipients:
                return None
        else:
            recipients = self._recipients(namespace, room, skip)
            if not recipients:
                return None  # nothing to encode: e.g. the copy for a sender's other devices, when there are none
            encoded = self.server.packet_class(sio_packet.EVENT, namespace=namespace, data=[event, *arguments]).encode()
            if isinstance(encoded, list):  # binary attachments: rare here, and python-socketio knows how
                return super().emit(event, data, namespace, room=room, skip_sid=skip_sid, **kwargs)
        packet = eio_packet.Packet(eio_packet.MESSAGE, encoded)
        if isinstance(room, str) and room in self.later_rooms:
            packet.chatserver_later = True  # read by the eventlet WebSocket's writer; others send as always
        self.deliveries += len(recipients)
        # The Engine.IO packet: its type digit and the UTF-8 text (encoded, once per emit, only
        # when the text is not ASCII).
        size = 1 + (len(encoded) if encoded.isascii() else len(encoded.encode()))
        self.bytes_out += len(recipients) * size
        sockets = self.server.eio.sockets
        for eio_sid in recipients:
            socket = sockets.get(eio_sid)
            if socket is not None and not socket.closed:
                socket.send(packet)
            else:
                self.server._send_eio_packet(eio_sid, packet)  # engine.io's way: logs it, forgets the socket
        return None
