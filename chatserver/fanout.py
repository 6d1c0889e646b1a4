"""Emits to a room: one call per recipient's Engine.IO socket instead of four.

python-socketio's ``Manager.emit`` builds the packet once, then hands it to every recipient
through ``Server._send_eio_packet``, engine.io's ``Server.send_packet`` and ``_get_socket``
before it reaches the socket's ``send``. A login sends a presence event to everyone online, so
with 10,000 clients that chain was a third of the server's CPU (docs/performance.md).
"""

from __future__ import annotations

from typing import Any

from engineio import packet as eio_packet
from socketio import Manager
from socketio import packet as sio_packet


class FanOutManager(Manager):
    """python-socketio's in-memory client manager, emitting to each recipient's socket directly."""

    def emit(
        self,
        event: str,
        data: Any,
        namespace: str,
        room: Any = None,
        skip_sid: Any = None,
        callback: Any = None,
        to: Any = None,
        **kwargs: Any,
    ) -> None:
        """``Manager.emit``; emits with a callback or with binary data are left to python-socketio."""
        room = to or room
        if callback is not None or namespace not in self.rooms:
            return super().emit(event, data, namespace, room=room, skip_sid=skip_sid, callback=callback, **kwargs)
        # As Manager.emit: a tuple is several arguments, anything else one (None: none).
        arguments = list(data) if isinstance(data, tuple) else [] if data is None else [data]
        encoded = self.server.packet_class(sio_packet.EVENT, namespace=namespace, data=[event, *arguments]).encode()
        if isinstance(encoded, list):  # binary attachments: rare here, and python-socketio knows how
            return super().emit(event, data, namespace, room=room, skip_sid=skip_sid, **kwargs)
        packet = eio_packet.Packet(eio_packet.MESSAGE, encoded)
        skip = skip_sid if isinstance(skip_sid, list) else [skip_sid]
        sockets = self.server.eio.sockets
        for sid, eio_sid in self.get_participants(namespace, room):
            if sid in skip:
                continue
            socket = sockets.get(eio_sid)
            if socket is not None and not socket.closed:
                socket.send(packet)
            else:
                self.server._send_eio_packet(eio_sid, packet)  # engine.io's way: logs it, forgets the socket
