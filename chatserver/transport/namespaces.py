"""Socket.IO namespaces as socket.io 4.8's server treats them: unknown ones refused with its error object.

python-socketio answers a CONNECT to a namespace nobody handles with the CONNECT_ERROR payload
``"Unable to connect"``, a string; socket.io 4.8 (``Client.connect``) sends the object
``{"message": "Invalid namespace"}``, which socket.io-client hands to ``connect_error`` as an
Error whose ``message`` is that text. The connection stays open, as there.
"""

from __future__ import annotations

from typing import Any

from socketio.packet import CONNECT_ERROR

INVALID_NAMESPACE = {"message": "Invalid namespace"}


def is_known(server: Any, namespace: str) -> bool:
    """Return whether python-socketio's ``server`` would let a client connect to ``namespace``."""
    # The test python-socketio's Server._handle_connect makes before it connects a client.
    return (namespace in server.handlers or namespace in server.namespace_handlers
            or server.namespaces == "*" or namespace in server.namespaces)


def is_connected(server: Any, eio_sid: str, namespace: str) -> bool:
    """Return whether the Engine.IO session ``eio_sid`` is connected to ``namespace``."""
    manager = server.manager
    sid = manager.sid_from_eio_sid(eio_sid, namespace)
    return sid is not None and manager.is_connected(sid, namespace)


def refuse_unknown(server: Any, eio_sid: str, namespace: str) -> None:
    """Answer a CONNECT to an unknown ``namespace`` as socket.io 4.8 does."""
    server._send_packet(eio_sid, server.packet_class(CONNECT_ERROR, data=dict(INVALID_NAMESPACE),
                                                     namespace=namespace))
