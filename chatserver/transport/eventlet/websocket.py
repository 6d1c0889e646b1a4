"""A cheaper WebSocket for engine.io under eventlet: no compression, fast unmasking, coalesced writes.

Profiling the benchmarks (docs/performance.md) showed eventlet's WebSocket and engine.io's writer
spending much of the server's CPU on work a chat does not need to pay for:

- permessage-deflate, negotiated whenever the client offers it (browsers always do): every small
  chat frame is run through zlib. The Node.js socket.io server leaves it off by default, and so
  do we: the extension offer is removed before eventlet sees it.
- unmasking each incoming frame one byte at a time in a Python generator; one big-integer XOR
  does the same.
- three ``recv()`` system calls per incoming frame (header, mask, payload): ``BufferedReceive``
  reads what the kernel has, so one call serves a frame, or several that arrived together.
- per outgoing packet: a queue hand-off to the socket's writer green thread, a wake-up of that
  thread, a frame build and a ``send()`` system call. Once a socket has upgraded,
  ``CoalescingWriter`` frames each packet where it is emitted (once per packet, so a broadcast
  frames once for all its recipients) and buffers the frame; when the running green thread
  yields, ``HubFlusher`` writes each socket's buffer with one non-blocking ``send()``.

Imported only when the async mode is eventlet, whose green threads never run two emitters at once.
"""

from __future__ import annotations

import socket
import weakref
from collections.abc import Callable
from typing import Any

from engineio.packet import CLOSE, PING
from eventlet.hubs import get_hub

from ..malformed import PROTOCOL_ERROR, PROTOCOL_ERROR_REASON
from ..sendqueue import bytes_over_largest
from .upgraded import release_request

# What the writer's queue carries instead of packets: encodes to FLUSH, the cue to send the buffer.
FLUSH = object()


class _FlushCue:
    """An item for engine.io's writer queue: the writer calls ``ws.send(item.encode())``."""

    data = None  # sized like an empty packet by the bounded send queue

    @staticmethod
    def encode() -> object:
        return FLUSH


FLUSH_CUE = _FlushCue()

# Packets that go through the socket's writer green thread, never straight from the hub. CLOSE
# must be written before engine.io stops the writer. engine.io's writer stops when its queue
# stays empty for a ping interval plus timeout, so each PING also keeps the writer alive.
WRITER_PACKET_TYPES = (CLOSE, PING)

# Engine.IO sockets whose WebSocket connection has ended: nothing takes their queued packets any more.
# A graceful shutdown waits for each socket's queue to drain; it must not wait for these (server.py).
ended_connections: weakref.WeakSet = weakref.WeakSet()


def unmask(data: bytes, mask: bytes, length: int | None = None, offset: int = 0) -> bytes:
    """XOR ``data[:length]`` with the 4-byte ``mask`` starting at mask position ``offset``."""
    if length is None:
        length = len(data)
    if not length:
        return b""
    start = offset % 4
    key = (mask * (length // 4 + 2))[start : start + length]
    return (int.from_bytes(data[:length], "big") ^ int.from_bytes(key, "big")).to_bytes(length, "big")


class BufferedReceive:
    """The client connection as the WebSocket reads it: each ``recv()`` takes what the kernel holds."""

    CHUNK = 16384

    def __init__(self, connection: Any) -> None:
        self.connection = connection
        self.pending = b""

    def recv(self, size: int) -> bytes:
        """Return at most ``size`` bytes: buffered ones first, else what one system call brings."""
        data = self.pending or self.connection.recv(max(size, self.CHUNK))
        self.pending = data[size:]
        return data[:size]

    def __getattr__(self, name: str) -> Any:
        return getattr(self.connection, name)  # sendall, settimeout, shutdown, close, ...


def websocket_frame(packet: Any) -> bytes:
    """Return the unmasked, unfragmented WebSocket frame of an Engine.IO packet, built once per packet."""
    frame = getattr(packet, "chatserver_frame", None)
    if frame is None:
        encoded = packet.encode()
        if packet.binary:
            opcode, payload = 0x82, encoded
        else:
            opcode, payload = 0x81, encoded.encode()
        length = len(payload)
        if length < 126:
            header = bytes((opcode, length))
        elif length < 65536:
            header = bytes((opcode, 126)) + length.to_bytes(2, "big")
        else:
            header = bytes((opcode, 127)) + length.to_bytes(8, "big")
        frame = packet.chatserver_frame = header + payload
    return frame


# How long a frame marked ``chatserver_later`` may wait for company before it is written. A
# login's `online` goes to everyone online: at 2,000 clients and 250 logins a second, five of
# them share each socket's ``send()`` instead of taking one each.
LATER_DELAY = 0.02


class HubFlusher:
    """Writes the marked writers' frames from eventlet's hub, ``delay`` seconds after the first
    mark (0: once the running green thread yields): no green thread wakes."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.dirty: list[CoalescingWriter] = []

    def mark(self, writer: CoalescingWriter) -> None:
        """Have ``writer`` write its frames in this flusher's next pass."""
        if not self.dirty:
            get_hub().schedule_call_global(self.delay, self.flush)
        self.dirty.append(writer)

    def flush(self) -> None:
        """Write every marked writer's frames (runs in the hub)."""
        dirty, self.dirty = self.dirty, []
        for writer in dirty:
            writer.write_now()


# One each per process: chatserver runs eventlet's hub in one thread. Frames that may wait
# (presence) go to LATER_FLUSHER unless a frame for the same socket that may not comes first.
FLUSHER = HubFlusher(0)
LATER_FLUSHER = HubFlusher(LATER_DELAY)


class CoalescingWriter:
    """Takes over ``send`` of an upgraded Engine.IO socket and the frame writes of its WebSocket.

    Frames emitted during a turn are written together when it ends, with one non-blocking
    ``send()`` from the hub. When the client does not take them all, the socket's writer green
    thread takes over and blocks on the rest, as engine.io's writer always did; so it does
    right after the upgrade (to send what engine.io held back first) and for the packets in
    ``WRITER_PACKET_TYPES``.

    While the writer has frames, at most ``limit`` bytes (0: no limit) besides the largest may
    wait, as in sendqueue's BoundedSendQueue; past that ``on_overflow(queue, waiting)`` runs once
    (see sendqueue.SlowConsumerGuard) and frames are dropped. Frames a client takes as fast as
    they come are not counted, so a burst bigger than the limit does not drop a client that reads.
    """

    def __init__(
        self, engineio_socket: Any, websocket: Any, limit: int, on_overflow: Callable[[Any, int], None]
    ) -> None:
        self.engineio_socket = engineio_socket
        self.websocket = websocket
        connection = websocket.socket
        self.raw_connection = getattr(connection, "fd", connection)  # eventlet's GreenSocket wraps the real one
        self.limit = limit
        self.on_overflow = on_overflow
        self.frames: list[bytes] = []
        self.buffered_bytes = 0
        self.largest_frame = 0  # since the frames were last taken
        self.writer_busy = True  # until the writer has sent what engine.io queued before the upgrade
        self.cued = False
        self.overflowed = False
        self.marked: HubFlusher | None = None  # the flusher that will write the frames
        self._send_packet = engineio_socket.send
        self._send_message = websocket.send
        engineio_socket.send = self.send
        websocket.send = self.send_message

    def send(self, packet: Any) -> None:
        """Engine.IO's ``Socket.send``: buffer the packet's frame once the socket is on WebSocket."""
        engineio_socket = self.engineio_socket
        if not engineio_socket.upgraded or engineio_socket.upgrading:
            # Still long-polling, or engine.io holds sends back while upgrading: its queue, as before.
            return self._send_packet(packet)
        if not engineio_socket.check_ping_timeout() or self.overflowed:
            return
        frame = websocket_frame(packet)
        if packet.packet_type in WRITER_PACKET_TYPES:
            self.writer_busy = True
        if self.writer_busy:
            waiting = bytes_over_largest(self.buffered_bytes, self.largest_frame, len(frame))
            if self.limit and waiting > self.limit:
                self.overflowed = True
                self.on_overflow(engineio_socket.queue, waiting)
                return
        self.frames.append(frame)
        self.buffered_bytes += len(frame)
        self.largest_frame = max(self.largest_frame, len(frame))
        if self.writer_busy:
            self._cue_writer()
        elif getattr(packet, "chatserver_later", False):
            if self.marked is None:
                self.marked = LATER_FLUSHER
                LATER_FLUSHER.mark(self)
        elif self.marked is not FLUSHER:
            # Frames let wait before this one go with it, in order.
            self.marked = FLUSHER
            FLUSHER.mark(self)

    def write_now(self) -> None:
        """Write the buffered frames without blocking; leave what the client did not take to the writer."""
        self.marked = None
        if self.writer_busy or not self.frames:
            return
        data = b"".join(self.frames)
        self.frames, self.buffered_bytes, self.largest_frame = [], 0, 0
        try:
            sent = self.raw_connection.send(data, socket.MSG_DONTWAIT)
        except BlockingIOError:
            sent = 0
        except OSError:
            return  # the connection is gone: its reader finds out and closes the socket
        if sent < len(data):
            self.frames.append(data[sent:])
            self.buffered_bytes = self.largest_frame = len(data) - sent
            self.writer_busy = True
            self._cue_writer()

    def _cue_writer(self) -> None:
        if not self.cued:
            self.cued = True
            # Behind whatever engine.io queued before, so the order on the wire holds.
            self.engineio_socket.queue.put(FLUSH_CUE)

    def send_message(self, message: Any, **kwargs: Any) -> None:
        """The WebSocket's ``send``, called by the writer: on the FLUSH cue write until nothing is left."""
        if message is not FLUSH:
            return self._send_message(message, **kwargs)
        while self.frames:
            frames, self.frames, self.buffered_bytes, self.largest_frame = self.frames, [], 0, 0
            self.websocket._send(b"".join(frames))  # eventlet's sendall, under its send lock: may block
        self.cued = False
        self.writer_busy = False


def lean_websocket_class(base: type, limit: int, on_overflow: Callable[[Any, int], None]) -> type:
    """Return a subclass of engine.io's eventlet WebSocket app: no compression, ``unmask``, coalesced writes,
    and the close frame for a message engine.io cannot decode (``malformed.checked_websocket_class``).

    ``base`` must keep the Engine.IO socket it serves as ``engineio_socket`` (the class from
    ``SlowConsumerGuard.websocket_class`` does); ``limit`` and ``on_overflow`` are the send-queue
    bound and what to do past it, as for the bounded queue.
    """

    class LeanWebSocket(base):
        """engine.io's eventlet WebSocket WSGI app, refusing permessage-deflate and writing in batches."""

        def __call__(self, environ: dict, start_response: Any) -> Any:
            environ.pop("HTTP_SEC_WEBSOCKET_EXTENSIONS", None)
            try:
                return super().__call__(environ, start_response)
            finally:
                if self.engineio_socket is not None:
                    ended_connections.add(self.engineio_socket)

        def _handle_hybi_request(self, environ: dict) -> Any:
            websocket = super()._handle_hybi_request(environ)
            # The handshake is answered: what the HTTP request held is no longer needed.
            release_request(environ)
            websocket._apply_mask = unmask  # eventlet calls self._apply_mask(data, mask, length=, offset=)
            websocket.socket = BufferedReceive(websocket.socket)
            if self.engineio_socket is not None:
                CoalescingWriter(self.engineio_socket, websocket, limit, on_overflow)
            return websocket

        def close_for_protocol_error(self, ws: Any) -> None:
            """Send the close frame 1002 on eventlet's WebSocket ``ws``; engine.io then closes the connection."""
            # Not ws.close(): that also closes the socket, which engine.io's writer closes again on
            # its way out, and eventlet writes a "socket shutdown error" to stderr for that.
            ws._send_closing_frame(ignore_send_errors=True, close_data=(PROTOCOL_ERROR, PROTOCOL_ERROR_REASON))

    return LeanWebSocket
