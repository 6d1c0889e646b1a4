"""Bounded send queues: a client that stops reading is dropped instead of buffered without end.

python-engineio gives each socket an unbounded queue of packets waiting to be sent
(miguelgrinberg/python-engineio#133, miguelgrinberg/Flask-SocketIO#311 and #663). When a client
stops reading, its WebSocket writer blocks on a full TCP buffer (or, on long-polling, no GET
comes) and every packet for it piles up in server memory. Here each socket's queue counts the
bytes it holds; past the limit the client is disconnected, its TCP connection cut, and the
reason logged. The largest packet waiting is not counted: one packet bigger than the limit
(the presence list, with many thousands online) is no sign of a client that stopped reading.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any

logger = logging.getLogger(__name__)

# What a queued packet costs beyond its payload: the Packet object and the queue slot.
PACKET_OVERHEAD = 64
# How long closing a socket waits for its client to collect the last packets (see ``join``).
FLUSH_WAIT = 1.0


def packet_size(packet: Any) -> int:
    """Return roughly how many bytes an Engine.IO packet holds in memory."""
    data = getattr(packet, "data", None)
    return PACKET_OVERHEAD + (len(data) if isinstance(data, (str, bytes)) else 0)


def bytes_over_largest(queued_bytes: int, largest: int, size: int) -> int:
    """Bytes waiting once a packet of ``size`` joins ``queued_bytes``, less the largest packet."""
    return queued_bytes + size - max(largest, size)


def bounded_queue_class(base: type) -> type:
    """Return a subclass of the async mode's queue class that holds at most ``limit`` bytes."""

    class BoundedSendQueue(base):
        """An Engine.IO send queue: past ``limit`` bytes (0: no limit) besides its largest packet
        ``on_overflow(queue, waiting_bytes)`` runs once and packets are dropped; ``join`` gives
        up after ``FLUSH_WAIT`` seconds."""

        def __init__(
            self,
            limit: int,
            on_overflow: Callable[[Any, int], None],
            sleep: Callable[[float], None],
            *args: Any,
            **kwargs: Any,
        ) -> None:
            super().__init__(*args, **kwargs)
            self.limit = limit
            self.on_overflow = on_overflow
            self.sleep = sleep
            self.queued_bytes = 0
            self.overflowed = False
            # The largest packet put since the queue was last empty.
            self.largest = 0
            self._count_lock = threading.Lock()

        def put(self, item: Any, *args: Any, **kwargs: Any) -> None:
            # None is engine.io's end-of-stream mark: it must always get through.
            if item is not None:
                size = packet_size(item)
                with self._count_lock:
                    if self.overflowed:
                        return
                    waiting = bytes_over_largest(self.queued_bytes, self.largest, size)
                    overflows = bool(self.limit) and waiting > self.limit
                    if overflows:
                        self.overflowed = True
                    else:
                        self.queued_bytes += size
                        self.largest = max(self.largest, size)
                if overflows:
                    self.on_overflow(self, waiting)
                    return
            super().put(item, *args, **kwargs)

        def get(self, *args: Any, **kwargs: Any) -> Any:
            item = super().get(*args, **kwargs)
            if item is not None:
                with self._count_lock:
                    self.queued_bytes -= packet_size(item)
                    if not self.queued_bytes:
                        self.largest = 0
            return item

        def join(self) -> None:
            """Wait until the queued packets were taken, for ``FLUSH_WAIT`` seconds at most.

            engine.io closes a socket with ``close(wait=True)`` when a long-polling POST is bad
            (too long, unknown packet type): that waits for a GET to take the queue, but the
            client waits for the POST's answer first, so without a GET pending the request
            would hang for good.
            """
            deadline = time.monotonic() + FLUSH_WAIT
            while self.unfinished_tasks and time.monotonic() < deadline:
                self.sleep(0.05)

    return BoundedSendQueue


def raw_connection(environ: dict) -> socket.socket | None:
    """Return the client's TCP socket of a WSGI request, under eventlet, gunicorn or Werkzeug."""
    eventlet_input = environ.get("eventlet.input")
    if eventlet_input is not None and hasattr(eventlet_input, "get_socket"):
        return eventlet_input.get_socket()
    return environ.get("gunicorn.socket") or environ.get("werkzeug.socket")


class SlowConsumerGuard:
    """Bounds every Engine.IO socket's send queue of ``eio`` and drops the client that overflows it.

    A ``limit`` of 0 leaves the queues unbounded; ``join`` is bounded either way. The raw TCP
    connection of each WebSocket is remembered (see ``websocket_class``), so a dropped client's
    blocked reader and writer are woken by cutting it.
    """

    def __init__(self, eio: Any, limit: int) -> None:
        self.eio = eio
        self.limit = limit
        self.queue_class = bounded_queue_class(eio._async["queue"])
        # Engine.IO socket -> its client's TCP connection; forgotten with the socket.
        self.connections: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        # Clients dropped so far; a plain integer the metrics read when scraped.
        self.dropped = 0
        # A copy: the driver's dict is shared by every engine.io server in the process.
        eio._async = dict(eio._async)
        eio.create_queue = self.create_queue

    def create_queue(self, *args: Any, **kwargs: Any) -> Any:
        """Make the send queue of a new Engine.IO socket."""
        return self.queue_class(self.limit, self.overflowed, self.eio.sleep, *args, **kwargs)

    def websocket_class(self, base: type) -> type:
        """Return a subclass of the async mode's WebSocket app that keeps the socket it serves and its connection."""
        connections = self.connections

        class RecordingWebSocket(base):
            """Engine.IO's WebSocket WSGI app; ``engineio_socket`` is the Engine.IO socket being upgraded."""

            def __init__(self, handler: Any, server: Any, *args: Any, **kwargs: Any) -> None:
                super().__init__(handler, server, *args, **kwargs)
                # The handler is a bound method of the engine.io Socket being upgraded.
                self.engineio_socket = getattr(handler, "__self__", None)

            def __call__(self, environ: dict, start_response: Any) -> Any:
                if self.engineio_socket is not None:
                    connections[self.engineio_socket] = raw_connection(environ)
                return super().__call__(environ, start_response)

        return RecordingWebSocket

    def overflowed(self, queue: Any, waiting: int) -> None:
        """Called once when a socket's queue passes the limit: drop that client soon."""
        # This runs inside an emit to the slow client, maybe in another client's handler:
        # disconnecting here would run the disconnect handlers in the middle of that one.
        self.eio.start_background_task(self._drop, queue, waiting)

    def _drop(self, queue: Any, waiting: int) -> None:
        engineio_socket = next((s for s in list(self.eio.sockets.values()) if s.queue is queue), None)
        if engineio_socket is None or engineio_socket.closed:
            return
        logger.warning(
            "dropping client %s: it stopped reading (%d bytes waiting to be sent, limit %d)",
            engineio_socket.sid,
            waiting,
            self.limit,
        )
        self.dropped += 1
        engineio_socket.close(wait=False, abort=True, reason=self.eio.reason.SERVER_DISCONNECT)
        self._cut_connection(engineio_socket)

    def _cut_connection(self, engineio_socket: Any) -> None:
        """Shut down a WebSocket's TCP connection, waking its blocked reader and writer."""
        connection = self.connections.get(engineio_socket)
        if connection is None:
            return
        try:
            connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass  # already closed by the peer
