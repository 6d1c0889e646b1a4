"""Engine.IO pings sent from a timer in eventlet's hub instead of a sleeping green thread per socket.

python-engineio starts a green thread per socket and ping cycle (``Socket.schedule_ping``) that
sleeps ``ping_interval`` and then queues a PING. Each of those sleeping threads holds a greenlet,
its saved stack (about 2.3 KiB), a GreenThread with its Event, and a timer: the third largest
thing a connected client costs. A hub timer holding the socket does the same wait for the price of
the timer. Queuing the PING never blocks (the send queue has no size bound that waits: past its
limit the guard drops the client from a green thread of its own), so it is done in the hub.

Ping *timeouts* are not found here: engine.io's service task checks every socket in one loop, and
each send checks its own socket; both close a silent socket from a green thread, where the
disconnect handlers may wait on the store.
"""

from __future__ import annotations

import functools
import logging
import time
from typing import Any

from engineio.packet import PING, Packet
from eventlet.hubs import get_hub

from ..newsockets import on_each_new_socket

logger = logging.getLogger(__name__)


class HubPing:
    """Has each new Engine.IO socket of ``eio`` ping from a hub timer."""

    def __init__(self, eio: Any) -> None:
        self.eio = eio
        on_each_new_socket(eio, self.adopt)

    def adopt(self, engineio_socket: Any) -> None:
        """Replace a new socket's ``schedule_ping`` (engine.io calls it first once the socket is connected)."""
        engineio_socket.schedule_ping = functools.partial(self.schedule, engineio_socket)

    def schedule(self, engineio_socket: Any) -> None:
        """engine.io's ``Socket.schedule_ping``: the next PING goes out ``ping_interval`` from now."""
        # As engine.io: only once the previous ping was answered (a PONG resets last_ping to None).
        if engineio_socket.last_ping:
            engineio_socket.last_ping = None
            get_hub().schedule_call_global(self.eio.ping_interval, self.ping, engineio_socket)

    @staticmethod
    def ping(engineio_socket: Any) -> None:
        """Send the PING that is due (runs in the hub): what engine.io's ``Socket._send_ping`` does after its sleep."""
        if engineio_socket.closing or engineio_socket.closed:
            return
        try:
            engineio_socket.last_ping = time.time()
            engineio_socket.send(Packet(PING))
        except Exception:  # an exception in a hub timer would only be printed to stderr by eventlet
            logger.exception("could not send a PING to %s", engineio_socket.sid)

