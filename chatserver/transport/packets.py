"""Socket.IO packets whose binary check loops over the data instead of recursing into it.

python-socketio checks every outgoing packet for bytes (to send them as attachments) by calling
itself on each element of every list and dict, building a list and reducing it with a lambda
at each level. For the presence list of N users that is thousands of Python calls per login;
profiling showed it at a tenth of the server's CPU while clients log in (docs/performance.md).
"""

from __future__ import annotations

from typing import Any

from engineio import json as engineio_json
from socketio.packet import Packet

from . import jsoncodec

# Never binary, so not looked into: JSON leaves.
JSON_LEAVES = frozenset({str, int, float, bool, type(None)})


class ChatPacket(Packet):
    """python-socketio's Packet with the same binary check, done in one loop.

    ``never_binary`` are the types not looked into; ``packet_class`` adds the caller's own.
    """

    never_binary: frozenset[type] = JSON_LEAVES

    @classmethod
    def data_is_binary(cls, data: Any) -> bool:
        """Return whether ``data`` holds bytes anywhere in its lists and dicts."""
        never_binary = cls.never_binary
        pending = [data]
        while pending:
            item = pending.pop()
            if type(item) in never_binary:
                continue
            if isinstance(item, (bytes, bytearray)):
                return True
            if isinstance(item, list):
                pending.extend(item)
            elif isinstance(item, dict):
                pending.extend(item.values())
        return False


def packet_class(never_binary: tuple[type, ...] = ()) -> type[ChatPacket]:
    """A ChatPacket class that also never looks into ``never_binary`` (lists known to hold no bytes).

    It encodes and decodes with orjson (``jsoncodec``), unless the host app gave python-socketio
    a JSON module of its own: then with that one.
    """
    json_module = jsoncodec if Packet.json is engineio_json else Packet.json
    return type("ChatPacket", (ChatPacket,), {"never_binary": JSON_LEAVES | frozenset(never_binary),
                                              "json": json_module})
