"""The Engine.IO handshake's ``pingInterval`` and ``pingTimeout`` in exact milliseconds, fractions of a second included.

python-engineio builds the OPEN packet with ``'pingInterval': int(ping_interval + grace) * 1000``
(``Server._handle_connect``), truncating to whole seconds before converting, while its
``pingTimeout`` is ``int(ping_timeout * 1000)`` and its sockets ping every ``ping_interval``
seconds as given. A 0.5 s interval was advertised as 0 and 1.5 s as 1000: clients, which give
up on a server that sends no ping within pingInterval + pingTimeout, were told the wrong pace.
``int()`` also truncates the float product: a 1.005 s timeout was advertised as 1004 ms. Both
are advertised rounded to the millisecond, as engine.io 6 advertises what it was configured with.
"""

from __future__ import annotations

from typing import Any

from engineio.packet import OPEN

from .newsockets import on_each_new_socket


class ExactPingInterval:
    """Wraps the Engine.IO ``connect`` handler of ``eio`` to advertise the ping interval and timeout to the millisecond.

    engine.io queues a new socket's OPEN packet, then calls the connect handler, and encodes the
    packet only once the handler returned (in the long-polling answer, or when the WebSocket
    writer starts). So the handler finds the packet first in the socket's send queue, not yet
    encoded, and corrects its ``pingInterval``.
    """

    def __init__(self, eio: Any) -> None:
        self.milliseconds = round((eio.ping_interval + eio.ping_interval_grace_period) * 1000)
        self.timeout_milliseconds = round(eio.ping_timeout * 1000)
        on_each_new_socket(eio, self.correct)

    def correct(self, engineio_socket: Any) -> None:
        """Correct a new socket's OPEN packet, queued and not sent yet."""
        for packet in list(engineio_socket.queue.queue):  # the async mode's queue keeps a deque
            if getattr(packet, "packet_type", None) == OPEN and isinstance(packet.data, dict):
                packet.data["pingInterval"] = self.milliseconds
                packet.data["pingTimeout"] = self.timeout_milliseconds
