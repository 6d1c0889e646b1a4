"""Socket.IO packets whose binary check loops over the data instead of recursing into it.

python-socketio checks every outgoing packet for bytes (to send them as attachments) by calling
itself on each element of every list and dict, building a list and reducing it with a lambda
at each level. For the presence list of N users that is thousands of Python calls per login;
profiling showed it at a tenth of the server's CPU while clients log in (docs/performance.md).
"""

from __future__ import annotations

from typing import Any

from socketio.packet import Packet

from .presence import UserList

# Never binary, so not looked into: JSON leaves, and the presence list (thousands of entries).
NEVER_BINARY = frozenset({str, int, float, bool, type(None), UserList})


class ChatPacket(Packet):
    """python-socketio's Packet with the same binary check, done in one loop."""

    @classmethod
    def data_is_binary(cls, data: Any) -> bool:
        """Return whether ``data`` holds bytes anywhere in its lists and dicts."""
        pending = [data]
        while pending:
            item = pending.pop()
            if type(item) in NEVER_BINARY:
                continue
            if isinstance(item, (bytes, bytearray)):
                return True
            if isinstance(item, list):
                pending.extend(item)
            elif isinstance(item, dict):
                pending.extend(item.values())
        return False
