"""``on_each_new_socket``: change every Engine.IO socket as it is created, before its first packet."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def on_each_new_socket(eio: Any, change: Callable[[Any], object]) -> None:
    """Wrap ``eio``'s Engine.IO ``connect`` handler so that ``change(socket)`` runs on each new socket first.

    engine.io creates the socket and queues its OPEN packet, then calls the handler; only once it
    returned is the OPEN packet sent and the first ping scheduled, so ``change`` comes before both.
    """
    connect = eio.handlers["connect"]

    def on_connect(sid: str, environ: dict, *args: Any) -> Any:
        engineio_socket = eio.sockets.get(sid)
        if engineio_socket is not None:
            change(engineio_socket)
        return connect(sid, environ, *args)

    eio.handlers["connect"] = on_connect
