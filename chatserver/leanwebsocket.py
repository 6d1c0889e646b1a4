"""A cheaper WebSocket for engine.io under eventlet: no per-message compression, fast unmasking.

Profiling the one-to-one benchmark (docs/performance.md) showed eventlet's WebSocket spending
about a fifth of the server's CPU on two things a chat does not need to pay for:

- permessage-deflate, negotiated whenever the client offers it (browsers always do): every small
  chat frame is run through zlib. The Node.js socket.io server leaves it off by default, and so
  do we: the extension offer is removed before eventlet sees it.
- unmasking each incoming frame one byte at a time in a Python generator; one big-integer XOR
  does the same.

Imported only when the async mode is eventlet.
"""

from __future__ import annotations

from typing import Any


def unmask(data: bytes, mask: bytes, length: int | None = None, offset: int = 0) -> bytes:
    """XOR ``data[:length]`` with the 4-byte ``mask`` starting at mask position ``offset``."""
    if length is None:
        length = len(data)
    if not length:
        return b""
    start = offset % 4
    key = (mask * (length // 4 + 2))[start : start + length]
    return (int.from_bytes(data[:length], "big") ^ int.from_bytes(key, "big")).to_bytes(length, "big")


def lean_websocket_class(base: type) -> type:
    """Return a subclass of engine.io's eventlet WebSocket app without compression, with ``unmask``."""

    class LeanWebSocket(base):
        """engine.io's eventlet WebSocket WSGI app, refusing permessage-deflate and unmasking fast."""

        def __call__(self, environ: dict, start_response: Any) -> Any:
            environ.pop("HTTP_SEC_WEBSOCKET_EXTENSIONS", None)
            return super().__call__(environ, start_response)

        def _handle_hybi_request(self, environ: dict) -> Any:
            websocket = super()._handle_hybi_request(environ)
            websocket._apply_mask = unmask  # eventlet calls self._apply_mask(data, mask, length=, offset=)
            return websocket

    return LeanWebSocket
