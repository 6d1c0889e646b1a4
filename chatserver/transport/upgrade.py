"""No NOOP packet over a WebSocket, so none is left over after an upgrade from long-polling.

python-engineio ends the long-polling GET of a socket being upgraded by putting a NOOP in the
socket's send queue (``Socket._websocket_handler``, after the probe). When no GET is waiting,
which is what socket.io-client does (it pauses polling before probing), the NOOP stays in the
queue and the new WebSocket's writer sends it as the first packet: a stray ``6`` that the Node
server never sends (engine.io 6 sends its NOOP on the polling transport only, and answers a GET
made during the upgrade with one, as python-engineio also does without the queue). A NOOP
carries nothing, so none goes out over a WebSocket at all.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from engineio.packet import NOOP, Packet

ENCODED_NOOP = Packet(NOOP).encode()  # "6"


def without_noops(send: Callable[..., Any]) -> Callable[..., Any]:
    """Return the WebSocket ``send`` that drops encoded NOOP packets and passes everything else to ``send``."""

    def send_without_noops(message: Any, *args: Any, **kwargs: Any) -> Any:
        if message == ENCODED_NOOP:
            return None
        return send(message, *args, **kwargs)

    return send_without_noops
