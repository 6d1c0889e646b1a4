"""A request to the Engine.IO endpoint without a ``transport`` query parameter is refused, as engine.io 6 does.

python-engineio takes a missing (or empty) ``transport`` for ``polling``; engine.io 6
(``Server.verify``) answers such a request ``400`` ("Transport unknown"), as it does for a
transport it does not know. Every client names its transport on every request.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

# A transport parameter with a value; parse_qs, which engine.io uses, skips empty ones too.
NAMED_TRANSPORT = re.compile(r"(?:^|&)transport=[^&]")
# No transport engine.io knows: it answers 400 "Invalid transport" with its usual headers (CORS).
NO_TRANSPORT = "transport=none"


class RequireTransport:
    """Wraps ``eio.handle_request`` so that a request naming no transport is refused as one naming an unknown one."""

    def __init__(self, eio: Any) -> None:
        self._handle_request = eio.handle_request
        eio.handle_request = self.handle_request

    def handle_request(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        """engine.io's ``handle_request``; without a transport, engine.io's own 400 for an unknown one."""
        query = environ.get("QUERY_STRING", "")
        if not NAMED_TRANSPORT.search(query):
            # A copy: the caller's environ is left as the client sent it.
            environ = {**environ, "QUERY_STRING": f"{query}&{NO_TRANSPORT}" if query else NO_TRANSPORT}
        return self._handle_request(environ, start_response)
