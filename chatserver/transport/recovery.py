"""Socket.IO connection state recovery, as socket.io 4.6+ servers do it: this node's log and sessions.

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
(tests/transport/test_private_names.py lists the names). In a cluster, ``remote``
(cluster/recovery.py) fetches a session another node kept. See docs/protocol.md and docs/scaling.md.
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
OFFSET_START = ',"'  # in an encoded packet, what comes before the offset (the last argument, digits only)
# How long a restored socket's missed message ids are remembered, against a late copy of one of them.
CAUGHT_UP_SECONDS = 10.0


# One kept packet, a plain tuple: (offset number, encoded Socket.IO packet, to, skip, namespace, time,
# message id). ``to`` is a room, a tuple of rooms or None (every socket); ``skip`` a tuple of sids;
# the message id is the cluster's for an emit that came through the message queue, else None. Tuples of
# strings and numbers only are untracked by Python's garbage collector, whose full collections
# would otherwise walk every kept packet: 100,000 of them in a busy 16 MiB log.
NUMBER, ENCODED, TO, SKIP, NAMESPACE, AT, MESSAGE_ID = range(7)


@dataclass
class Session:
    """A socket that dropped: what comes back if its client reconnects in time (socket.io's ``Session``)."""

    sid: str
    pid: str
    namespace: str
    rooms: frozenset
    data: Any
    dropped_at: float
    # Restored from another node of a cluster: its missed packets as that node sent them
    # ((encoded, message id) pairs), and this node's log position when it asked for them.
    remote_missed: list | None = None
    remote_start: int = 0
    remote_owner: str = ""


class PacketLog:
    """The recent recoverable packets of this node, bounded by age (the window) and by bytes.

    Offsets are numbers counted up from 1 (written as decimal strings, which socket.io-client
    keeps as it keeps socket.io's), so finding a client's place is arithmetic, not a search.
    ``bytes`` counts each packet's text and the Python objects that keep it (``ENTRY_OVERHEAD``),
    so that ``max_bytes`` bounds the memory even for a flood of small packets (a 429 answer is
    about 100 characters and took 470 bytes of memory: counting the text alone let the log grow to
    four times its bound).
    """

    # The entry's tuple, its offset, time and skip tuple, and the string's header (tracemalloc).
    ENTRY_OVERHEAD = 300

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

    def append(self, encoded: str, to: Any, skip: Collection[str], namespace: str,
               message_id: str | None = None) -> None:
        """Keep the packet just encoded with the reserved offset; drop what is too old or over the bytes."""
        now = self.clock()
        if to is not None and not isinstance(to, str):
            to = tuple(to)
        self.entries.append((self._next, encoded, to, tuple(skip), namespace, now, message_id))
        self._next += 1
        self.bytes += len(encoded) + self.ENTRY_OVERHEAD
        self.prune(now)

    def prune(self, now: float | None = None) -> None:
        """Drop the oldest packets while they are older than the window or the log is over its bytes."""
        oldest = (self.clock() if now is None else now) - self.window
        entries = self.entries
        while entries and (entries[0][AT] < oldest or self.bytes > self.max_bytes):
            self.bytes -= len(entries.popleft()[ENCODED]) + self.ENTRY_OVERHEAD

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
        return [] if number is None else [entry[ENCODED] for entry in self.entries_after(number, session)]

    def entries_after(self, number: int, session: Session) -> list[tuple]:
        """The entries after offset ``number`` that ``session``'s rooms would have received, in order."""
        entries = self.entries
        if not entries:
            return []
        rooms, sid, namespace = session.rooms, session.sid, session.namespace
        missed = []
        for index in range(max(0, number + 1 - entries[0][NUMBER]), len(entries)):
            entry = entries[index]
            if entry[NAMESPACE] == namespace and _reaches(entry[TO], rooms) and sid not in entry[SKIP]:
                missed.append(entry)
        return missed

    @property
    def next_number(self) -> int:
        """The number the next packet's offset will have."""
        return self._next


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

    def __init__(self, server: Any, window: float, max_bytes: int, secret: bytes | None = None,
                 clock: Callable[[], float] = time.monotonic, holds: Any = None) -> None:
        self.server = server
        self.window = window
        self.log = PacketLog(window, max_bytes, clock)
        self.clock = clock
        # Emits, restores and drops change the log, the sessions and the rooms together (threading mode).
        self.lock = threading.Lock()
        self.sessions: OrderedDict[str, Session] = OrderedDict()  # by pid, oldest drop first
        # Rooms of kept sessions: an emit nobody connected receives is kept only if one of these hears it.
        self.away_rooms: Counter = Counter()
        # The node's RoomHolds in a cluster (holds.py): a kept session's rooms stay held by this node.
        self.holds = holds
        # The pid's key: the cluster's shared one, so that every node derives the same pid for a sid.
        self._secret = secret or secrets.token_bytes(32)
        # The cluster's part (cluster/recovery.py), None on one node: asks other nodes for sessions.
        self.remote: Any = None
        # Set by the namespace. ``in_grace(sid) -> bool``: whether the user of a dropped socket is
        # still online; ``on_handed_over(sid)``: another node logged that socket in, forget it here.
        self.in_grace: Callable[[str], bool] | None = None
        self.on_handed_over: Callable[[str], None] | None = None
        self._owners: dict[str, str] = {}  # sid -> the node a just restored session came from
        # Message id -> (sid, time): sent to a socket restored from another node among its missed
        # packets. The owner logs its own emits before it publishes them, so one of them can be in
        # its answer and still reach this node after the socket is back: not twice (``sent_already``).
        self._caught_up: dict[str, tuple[str, float]] = {}
        self.pending_remote = 0  # restores waiting for another node's answer: every emit is kept meanwhile
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
            if session is None and self.remote is not None:
                session = self._restore_remote(data["pid"], data["offset"], namespace or "/")
            if session is not None:
                self._restoring[eio_sid] = (session, data["offset"])
            else:
                self.missed_count += 1
        try:
            return self._handle_connect(eio_sid, namespace, data)
        finally:
            restoring = self._restoring.pop(eio_sid, None)
            if restoring is not None:  # not restored after all (refused namespace): kept here for another try
                with self.lock:
                    self._keep(restoring[0], held=restoring[0].remote_missed is None)

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
        """The private session id of ``sid``: derived with the secret (the cluster's), so nothing is kept per socket."""
        digest = hashlib.blake2b(sid.encode(), key=self._secret, digest_size=15).digest()
        return base64.urlsafe_b64encode(digest).decode()

    def restoring(self, eio_sid: str) -> tuple[Session, str] | None:
        """The session (and offset) that the socket connecting on ``eio_sid`` takes over; asked once, by the manager."""
        return self._restoring.pop(eio_sid, None)

    def restored(self, session: Session) -> None:
        """The manager gave ``session`` its sid and rooms again: remember its data for the connect handler."""
        self._recovered[session.sid] = session.data
        if session.remote_owner:
            self._owners[session.sid] = session.remote_owner
        else:
            self._hold(session, False)  # held for the session until now: the socket is in its rooms
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
        if self.remote is not None:
            self.remote.kept(session.pid)

    def forget(self, sid: str) -> None:
        """The socket's client left for good (or the session must not come back): nothing kept for it."""
        self._recovered.pop(sid, None)
        with self.lock:
            session = self.sessions.pop(self.pid_of(sid), None)
            if session is not None:
                self._away(session, False)

    def wanted(self, to: Any) -> bool:
        """Whether a kept session is in ``to`` (a room, rooms, None: all): then an emit nobody here gets is kept."""
        if self.pending_remote:
            return True  # a session coming from another node: its rooms are not known yet
        if not self.sessions:
            return False
        if to is None or isinstance(to, str):
            return to is None or self.away_rooms[to] > 0
        return any(self.away_rooms[room] > 0 for room in to)

    # -- across the nodes of a cluster (cluster/recovery.py carries the messages) -------------

    def rooms_kept(self, pid: str) -> frozenset:
        """The rooms of the session ``pid`` kept here (none when it is not)."""
        with self.lock:
            session = self.sessions.get(pid)
            return session.rooms if session is not None else frozenset()

    def hand_over(self, pid: str, offset: str, namespace: str) -> dict | None:
        """Give the session ``pid`` to another node: its sid, rooms, data, missed packets; None if not here."""
        with self.lock:
            session = self._take(pid, offset, namespace)
            if session is None:
                return None
            self._hold(session, False)
            missed = [[entry[ENCODED], entry[MESSAGE_ID]]
                      for entry in self.log.entries_after(int(offset), session)]
        in_grace = self.in_grace(session.sid) if self.in_grace is not None else False
        return {"sid": session.sid, "rooms": list(session.rooms), "data": session.data, "missed": missed,
                "in_grace": in_grace}

    def _restore_remote(self, pid: str, offset: str, namespace: str) -> Session | None:
        """Ask the node that kept ``pid`` for it; every emit is kept here until the answer (see scaling.md)."""
        with self.lock:
            self.pending_remote += 1
            start = self.log.next_number
        try:
            answer = self.remote.restore(pid, offset, namespace)
        finally:
            with self.lock:
                self.pending_remote -= 1
        if not answer:
            return None
        data = answer["data"]
        if isinstance(data, dict):
            data = {**data, "in_grace": answer["in_grace"]}
        return Session(answer["sid"], pid, namespace, frozenset(answer["rooms"]), data, self.clock(),
                       remote_missed=answer["missed"], remote_start=start, remote_owner=answer["owner"])

    def handed_over(self, sid: str) -> None:
        """The node this node handed ``sid`` to logged it in: the chat forgets it here (quietly)."""
        if self.on_handed_over is not None:
            self.on_handed_over(sid)

    def settled(self, sid: str) -> None:
        """The connect handler of a restored ``sid`` is done: a node it came from may forget it now.

        Only now, so that its user is online here before it goes there: never offline in between.
        """
        owner = self._owners.pop(sid, None)
        if owner and self.remote is not None:
            self.remote.done(owner, sid)

    def catch_up(self, session: Session) -> list[str]:
        """The packets a session from another node missed: that node's, then those kept here since asking.

        Each gets a new offset of this node's, in the order sent (so that the client's next offset
        is one this node knows), and is kept for this socket alone. Hold the lock.
        """
        sent_there = {message_id for _, message_id in session.remote_missed if message_id}
        now = self.clock()
        self._caught_up = {mid: sent for mid, sent in self._caught_up.items() if sent[1] > now - CAUGHT_UP_SECONDS}
        self._caught_up.update((message_id, (session.sid, now)) for message_id in sent_there)
        packets = [encoded for encoded, _ in session.remote_missed]
        packets += [entry[ENCODED] for entry in self.log.entries_after(session.remote_start - 1, session)
                    if entry[MESSAGE_ID] is None or entry[MESSAGE_ID] not in sent_there]
        log, caught_up = self.log, []
        for encoded in packets:
            # The offset is the last argument: `,"<digits>"]` at the end of the packet.
            again = encoded[:encoded.rindex(OFFSET_START)] + OFFSET_START + log.reserve() + '"]'
            log.append(again, session.sid, (), session.namespace)
            caught_up.append(again)
        return caught_up

    def sent_already(self, message_id: str) -> str | None:
        """The sid of a socket restored here that got the emit ``message_id`` from its old node already."""
        sent = self._caught_up.get(message_id)
        return sent[0] if sent is not None else None

    # -- the sessions --------------------------------------------------------------------------

    def _keep(self, session: Session, held: bool = False) -> None:
        """Keep ``session``; ``held``: its rooms are still held for it (taken, then not restored)."""
        replaced = self.sessions.pop(session.pid, None)
        if replaced is not None:
            self._away(replaced, False)
        self.sessions[session.pid] = session
        self.away_rooms.update(session.rooms)
        if not held:
            self._hold(session, True)

    def _away(self, session: Session, kept: bool) -> None:
        """Count (or stop counting) the rooms of a kept session, and hold them; hold the lock."""
        if kept:
            self.away_rooms.update(session.rooms)
        else:
            self.away_rooms.subtract(session.rooms)
        self._hold(session, kept)

    def _hold(self, session: Session, held: bool) -> None:
        if self.holds is not None:
            # Not its own room: emits to a sid go to every node.
            rooms = [room for room in session.rooms if room != session.sid]
            (self.holds.add if held else self.holds.remove)(rooms)

    def _take(self, pid: str, offset: str, namespace: str) -> Session | None:
        """Remove and return the session ``pid`` if it can be restored from ``offset``; hold the lock."""
        self._expire()
        session = self.sessions.get(pid)
        if session is None or session.namespace != namespace or not self.log.can_serve(offset):
            return None
        del self.sessions[pid]
        # Its rooms stay held until the socket is in them again (``restored``) or the session goes
        # to another node (``hand_over``): no moment in between when emits to them skip this node.
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
            self._away(session, False)
        self.away_rooms += Counter()  # drop the rooms no session is in any more
