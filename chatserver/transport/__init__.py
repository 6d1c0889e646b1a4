"""chatserver's layer under python-socketio and python-engineio: what the chat needs of the wire.

Nothing here knows the chat's events: these parts guard and speed up the Engine.IO/Socket.IO
transport, and ``install`` puts them around one ``SocketIO`` in the one order that works.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from socketio.packet import Packet

from .admission import Admission
from .fanout import FanOutManager
from .handshake import ExactPingInterval
from .malformed import checked_websocket_class, refuse_undecodable_posts
from .newsockets import on_each_new_socket
from .packetfilter import IncomingPacketFilter
from .packets import packet_class
from .polling import PolledSocket
from .recovery import Recovery
from .sendqueue import SlowConsumerGuard
from .sessionenviron import SessionEnviron
from .transportquery import RequireTransport

__all__ = ["Admission", "FanOutManager", "Recovery", "TransportSettings", "install"]


@dataclass(frozen=True)
class TransportSettings:
    """What the transport guards are told: the send-queue bound, the per-address cap, lists never binary."""

    send_queue_bytes: int = 262144
    max_clients_per_address: int = 0
    never_binary: tuple[type, ...] = ()
    # Connection state recovery: seconds a dropped session is kept (0: off), bytes of kept packets.
    recovery_window: float = 0.0
    recovery_bytes: int = 16 * 1024 * 1024
    # The cluster's shared key for pids (None: this process's own).
    recovery_secret: bytes | None = None


def install(app: Any, socketio: Any, settings: TransportSettings) -> Admission:
    """Put chatserver's transport around the Engine.IO server of ``socketio`` and ``app.wsgi_app``.

    In this order, because each step wraps what the one before left:
    0. the session's copy of the handshake environ, without the request's live objects: innermost
       around engine.io's ``connect`` handler, which is python-socketio's and keeps that environ;
       under eventlet each socket's pings come from a hub timer instead of a green thread;
    1. the incoming packet filter takes the place of engine.io's ``message`` handler
       (python-socketio's dispatcher): it decodes and checks each packet and closes the
       connection on an invalid one; engine.io's ``connect`` handler is wrapped to correct the
       handshake's ping settings, to have each new socket refuse long-polling bodies engine.io
       cannot decode and answer its long-polling GETs as engine.io 6 does; ``handle_request``
       is wrapped to refuse requests that name no transport;
    2. the slow-consumer guard bounds every send queue and gives the server its own copy of the
       async driver table, so that step 3 changes this server's WebSocket class only;
    3. the WebSocket class: innermost the check that closes a connection sending what engine.io
       cannot decode (it wraps the Engine.IO handler, which the next class must see unwrapped),
       then the guard's recording class (it knows each socket's TCP connection), under eventlet
       wrapped again by the lean WebSocket, which needs that recording class;
    4. Socket.IO packets with the cheaper binary check;
    5. connection state recovery, when its window is not 0 and the client manager is ours: it
       wraps python-socketio's connect handling and CONNECT reply, and engine.io's ``disconnect``
       handler (to tell an Engine.IO CLOSE from a Socket.IO DISCONNECT);
    6. the admission middleware in front of the WSGI app (per-address cap, refusal while
       shutting down); it wraps engine.io's ``connect`` and ``disconnect`` handlers last, so it
       counts a session only once python-socketio accepted it.
    Returns the admission middleware.
    """
    eio = socketio.server.eio
    SessionEnviron(eio)
    if eio.async_mode == "eventlet":
        from .eventlet.ping import HubPing

        HubPing(eio)
    IncomingPacketFilter(eio)
    ExactPingInterval(eio)
    refuse_undecodable_posts(eio)
    on_each_new_socket(eio, PolledSocket)  # its GETs
    RequireTransport(eio)
    guard = SlowConsumerGuard(eio, settings.send_queue_bytes)
    websocket = eio._async.get("websocket")
    if websocket is not None:
        websocket = guard.websocket_class(checked_websocket_class(websocket))
        if eio.async_mode == "eventlet":
            from .eventlet.websocket import lean_websocket_class

            websocket = lean_websocket_class(websocket, settings.send_queue_bytes, guard.overflowed)
        eio._async["websocket"] = websocket
    if socketio.server.packet_class is Packet:
        socketio.server.packet_class = packet_class(settings.never_binary)
    manager = socketio.server.manager
    if settings.recovery_window > 0 and isinstance(manager, FanOutManager):
        manager.recovery = Recovery(socketio.server, settings.recovery_window, settings.recovery_bytes,
                                    settings.recovery_secret, holds=manager.holds)
    admission = Admission(
        app.wsgi_app,
        eio,
        path=socketio.sockio_mw.engineio_path,
        max_per_address=settings.max_clients_per_address,
    )
    admission.slow_consumer_guard = guard
    app.wsgi_app = admission
    return admission
