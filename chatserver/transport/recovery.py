"""Socket.IO connection state recovery on one node, as socket.io 4.6+ servers do it.

socket.io's ``SessionAwareAdapter`` (socket.io-adapter, in-memory-adapter.ts) is the model:

- the CONNECT reply carries a private session id, ``{sid, pid}``;
- every event packet without an ack id gets an offset appended as its last argument, and the
  packet is kept in one log per node (not per socket: one append per emit, whatever the audience);
- when a socket goes away for a reason that is not its own (transport close or error, ping
  timeout), its session (sid, rooms, the application's data) is kept for the window;
- a client that connects again with ``{pid, offset}`` in its CONNECT auth gets its sid and rooms
  back and, before the CONNECT reply, every kept packet after ``offset`` its rooms would have
  received, in order; socket.io-client then reports ``socket.recovered === true``.

What python-socketio lacks for this (python-socketio #1258) is added around its server: its
private ``Server._handle_connect`` and ``Server._send_packet`` are wrapped, and ``FanOutManager``
asks this module for the sid of a socket being restored, for its missed packets and for offsets
(tests/transport/test_private_names.py lists the names). See docs/protocol.md.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import secrets
import threading
import time
from collections import Counter, OrderedDict, deque
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

from socketio import packet as sio_packet

logger = logging.getLogger(__name__)

# Engine.IO's reasons for a socket that went away without saying so (python-engineio's
# ``Server.reason``); socket.io recovers the same ones ("transport close", "transport error",
# "ping timeout"). A Socket.IO DISCONNECT packet ("client disconnect") ends the session at once.
DROPS = frozenset({"transport close", "transport error", "ping timeout"})
# What python-engineio calls an Engine.IO CLOSE packet too: socket.io-client's long-polling
# transport sends one when it is closed under the client (socket.io counts that as "transport close").
CLIENT_DISCONNECT = "client disconnect"


# One kept packet, a plain tuple: (offset number, encoded Socket.IO packet, to, skip, namespace, time).
# ``to`` is a room, a tuple of rooms or None (every socket); ``skip`` a tuple of sids. Tuples of
# strings and numbers only are untracked by Python's garbage collector, whose full collections
# would otherwise walk every kept packet: 100,000 of them in a busy 16 MiB log.
NUMBER, ENCODED, TO, SKIP, NAMESPACE, AT = range(6)


@dataclass
class Session:
    """A socket that dropped: what comes back if its client reconnects in time (socket.io's ``Session``)."""

    sid: str
    pid: str
    namespace: str
    rooms: frozenset
    data: Any
    dropped_at: float


class PacketLog:
    """The recent recoverable packets of this node, bounded by age (the window) and by bytes.

    Offsets are numbers counted up from 1 (written as decimal strings, which socket.io-client
    keeps as it keeps socket.io's), so finding a client's place is arithmetic, not a search.
    """

    def __init__(self, window: float, max_bytes: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.window = window
        self.max_bytes = max_bytes
        self.clock = clock
        self.entries: deque[tuple] = deque()
        self.bytes = 0
        self._next = 1

    def reserve(self) -> str:
        """Return the next packet's offset; ``append`` it (holding the same lock) before reserving again."""
        return str(self._next)

    def append(self, encoded: str, to: Any, skip: Collection[str], namespace: str) -> None:
        """Keep the packet just encoded with the reserved offset; drop what is too old or over the bytes."""
        now = self.clock()
        if to is not None and not isinstance(to, str):
            to = tuple(to)
        self.entries.append((self._next, encoded, to, tuple(skip), namespace, now))
        self._next += 1
        self.bytes += len(encoded)
        self.prune(now)

    def prune(self, now: float | None = None) -> None:
        """Drop the oldest packets while they are older than the window or the log is over its bytes."""
        oldest = (self.clock() if now is None else now) - self.window
        entries = self.entries
        while entries and (entries[0][AT] < oldest or self.bytes > self.max_bytes):
            self.bytes -= len(entries.popleft()[ENCODED])

    def can_serve(self, offset: str) -> bool:
        """Whether every packet after ``offset`` is still here (and ``offset`` was one of ours)."""
        number = _number(offset)
        if number is None or number >= self._next:
            return False
        first = self.entries[0][NUMBER] if self.entries else self._next
        # The packet at ``offset`` itself may be gone: the client has it, and everything after it is here.
        return number >= first - 1

    def after(self, offset: str, session: Session) -> list[str]:
        """The packets after ``offset`` that ``session``'s rooms would have received, in order."""
        number = _number(offset)
        entries = self.entries
        if number is None or not entries:
            return []
        rooms, sid, namespace = session.rooms, session.sid, session.namespace
        missed = []
        for index in range(max(0, number + 1 - entries[0][NUMBER]), len(entries)):
            entry = entries[index]
            if entry[NAMESPACE] == namespace and _reaches(entry[TO], rooms) and sid not in entry[SKIP]:
                missed.append(entry[ENCODED])
        return missed


def _number(offset: Any) -> int | None:
    if not isinstance(offset, str) or not offset.isdigit() or len(offset) > 18:
        return None
    return int(offset)


def _reaches(to: Any, rooms: frozenset) -> bool:
    if to is None or isinstance(to, str):
        return to in rooms  # None: every socket, and every socket is in python-socketio's room None
    return any(room in rooms for room in to)


class Recovery:
    """The sessions of dropped sockets and the packet log of one node; wraps one python-socketio server.

    ``window`` seconds a dropped session is kept; ``max_bytes`` bounds the log of packets.
    """

    def __init__(self, server: Any, window: float, max_bytes: int,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.server = server
        self.window = window
        self.log = PacketLog(window, max_bytes, clock)
        self.clock = clock
        # Emits, restores and drops change the log, the sessions and the rooms together (threading mode).
        self.lock = threading.Lock()
        self.sessions: OrderedDict[str, Session] = OrderedDict()  # by pid, oldest drop first
        # Rooms of kept sessions: an emit nobody connected receives is kept only if one of these hears it.
        self.away_rooms: Counter = Counter()
        self._secret = secrets.token_bytes(32)
        self._restoring: dict[str, tuple[Session, str]] = {}  # eio sid -> (session, offset)
        self._recovered: dict[str, Any] = {}  # sid -> data of a socket just restored, until its connect handler
        self._engine_closing: set[str] = set()
        self.recovered_count = 0  # sessions restored, read by the metrics
        self.missed_count = 0  # reconnects with a pid that could not be restored

        self._handle_connect = server._handle_connect
        server._handle_connect = self.handle_connect
        self._send_packet = server._send_packet
        server._send_packet = self.send_packet
        eio = server.eio
        self._eio_disconnect = eio.handlers["disconnect"]
        eio.handlers["disconnect"] = self.on_engine_disconnect

    # -- wrapped python-socketio / python-engineio entry points ---------------------------------

    def handle_connect(self, eio_sid: str, namespace: str | None, data: Any) -> Any:
        """``Server._handle_connect``: a CONNECT with ``{pid, offset}`` in its auth restores a kept session."""
        if isinstance(data, dict) and isinstance(data.get("pid"), str) and isinstance(data.get("offset"), str):
            with self.lock:
                session = self._take(data["pid"], data["offset"], namespace or "/")
            if session is not None:
                self._restoring[eio_sid] = (session, data["offset"])
            else:
                self.missed_count += 1
        try:
            return self._handle_connect(eio_sid, namespace, data)
        finally:
            restoring = self._restoring.pop(eio_sid, None)
            if restoring is not None:  # not restored after all (refused namespace): keep it for another try
                with self.lock:
                    self._keep(restoring[0])

    def send_packet(self, eio_sid: str, pkt: Any) -> Any:
        """``Server._send_packet``: the CONNECT reply carries the private session id, as socket.io's ``{sid, pid}``."""
        if pkt.packet_type == sio_packet.CONNECT and isinstance(pkt.data, dict) and "sid" in pkt.data:
            pkt.data["pid"] = self.pid_of(pkt.data["sid"])
        return self._send_packet(eio_sid, pkt)

    def on_engine_disconnect(self, eio_sid: str, reason: Any = None, *args: Any) -> Any:
        """Engine.IO's disconnect handler: an Engine.IO CLOSE packet is a drop, not the client leaving."""
        self._engine_closing.add(eio_sid)
        try:
            return self._eio_disconnect(eio_sid, reason, *args)
        finally:
            self._engine_closing.discard(eio_sid)

    # -- what the manager and the namespace ask ------------------------------------------------

    def pid_of(self, sid: str) -> str:
        """The private session id of ``sid``: derived with this node's secret, so nothing is kept per socket."""
        digest = hashlib.blake2b(sid.encode(), key=self._secret, digest_size=15).digest()
        return base64.urlsafe_b64encode(digest).decode()

    def restoring(self, eio_sid: str) -> tuple[Session, str] | None:
        """The session (and offset) that the socket connecting on ``eio_sid`` takes over; asked once, by the manager."""
        return self._restoring.pop(eio_sid, None)

    def restored(self, session: Session) -> None:
        """The manager gave ``session`` its sid and rooms again: remember its data for the connect handler."""
        self._recovered[session.sid] = session.data
        self.recovered_count += 1

    def take_recovered(self, sid: str) -> tuple[bool, Any]:
        """``(True, data)`` when ``sid`` was just restored (asked once: the connect handler), else ``(False, None)``."""
        if sid in self._recovered:
            return True, self._recovered.pop(sid)
        return False, None

    def is_drop(self, sid: str, namespace: str, reason: Any) -> bool:
        """Whether ``sid`` is going away for a reason its client did not choose (socket.io recovers those)."""
        if reason in DROPS:
            return True
        if reason == CLIENT_DISCONNECT:
            eio_sid = self.server.manager.eio_sid_from_sid(sid, namespace)
            return eio_sid in self._engine_closing
        return False

    def keep(self, sid: str, namespace: str, rooms: Collection, data: Any) -> None:
        """Keep the session of ``sid``, which dropped, for the window (call before it leaves its rooms)."""
        self._recovered.pop(sid, None)
        session = Session(sid, self.pid_of(sid), namespace, frozenset(rooms), data, self.clock())
        with self.lock:
            self._keep(session)
            self._expire()

    def forget(self, sid: str) -> None:
        """The socket's client left for good (or the session must not come back): nothing kept for it."""
        self._recovered.pop(sid, None)
        with self.lock:
            session = self.sessions.pop(self.pid_of(sid), None)
            if session is not None:
                self.away_rooms.subtract(session.rooms)

    def wanted(self, to: Any) -> bool:
        """Whether a kept session is in ``to`` (a room, rooms, None: all): then an emit nobody here gets is kept."""
        if not self.sessions:
            return False
        if to is None or isinstance(to, str):
            return to is None or self.away_rooms[to] > 0
        return any(self.away_rooms[room] > 0 for room in to)

    # -- the sessions --------------------------------------------------------------------------

    def _keep(self, session: Session) -> None:
        self.sessions[session.pid] = session
        self.sessions.move_to_end(session.pid)
        self.away_rooms.update(session.rooms)

    def _take(self, pid: str, offset: str, namespace: str) -> Session | None:
        """Remove and return the session ``pid`` if it can be restored from ``offset``; hold the lock."""
        self._expire()
        session = self.sessions.get(pid)
        if session is None or session.namespace != namespace or not self.log.can_serve(offset):
            return None
        del self.sessions[pid]
        self.away_rooms.subtract(session.rooms)
        return session

    def _expire(self) -> None:
        oldest = self.clock() - self.window
        sessions = self.sessions
        while sessions:
            pid, session = next(iter(sessions.items()))
            if session.dropped_at >= oldest:
                break
            del sessions[pid]
            self.away_rooms.subtract(session.rooms)
        self.away_rooms += Counter()  # drop the rooms no session is in any more
