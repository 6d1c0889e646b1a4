"""Socket.IO packets whose binary check loops over the data instead of recursing into it, and
whose JSON takes a list's text as given when the list carries it.

python-socketio checks every outgoing packet for bytes (to send them as attachments) by calling
itself on each element of every list and dict, building a list and reducing it with a lambda
at each level. For the presence list of N users that is thousands of Python calls per login;
profiling showed it at a tenth of the server's CPU while clients log in (docs/performance.md).
Encoding that list as JSON was another tenth: a list that keeps its own JSON text up to date
(``json_text``, the presence's) is spliced into the packet instead of encoded again.
"""

from __future__ import annotations

import secrets
from typing import Any

from engineio import json as engineio_json
from socketio.packet import Packet

from . import jsoncodec

# Stands for a list with its own JSON text while the rest of the packet is encoded; a secret of the
# process, so no client can put a string into a packet that is taken for it.
_PLACEHOLDER = "\x00chatserver:" + secrets.token_hex(16)


def splicing(base: Any) -> type:
    """A JSON module like ``base`` whose ``dumps`` splices in the ``json_text`` of an event
    argument's list value (``{"users": UserList}``) instead of encoding it anew."""
    encoded_placeholder = base.dumps(_PLACEHOLDER)

    class SplicingJson:
        loads = staticmethod(base.loads)

        @staticmethod
        def dumps(data: Any, **kwargs: Any) -> str:
            """``base.dumps(data, **kwargs)``; a ``json_text`` is compact JSON, as python-socketio asks."""
            if type(data) is list:
                for argument in data:
                    if type(argument) is dict:
                        for key, value in argument.items():
                            text = getattr(value, "json_text", None)
                            if text is not None:
                                spliced = dict(argument)
                                spliced[key] = _PLACEHOLDER
                                outer = [spliced if item is argument else item for item in data]
                                return base.dumps(outer, **kwargs).replace(encoded_placeholder, text, 1)
            return base.dumps(data, **kwargs)

    return SplicingJson

# Never binary, so not looked into: JSON leaves.
JSON_LEAVES = frozenset({str, int, float, bool, type(None)})


class ChatPacket(Packet):
    """python-socketio's Packet with the same binary check, done in one loop.

    ``never_binary`` are the types not looked into; ``packet_class`` adds the caller's own.
    """

    never_binary: frozenset[type] = JSON_LEAVES
    json = splicing(engineio_json)

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
    a JSON module of its own: then with that one; either way lists that keep their JSON are spliced in.
    """
    json_module = jsoncodec if Packet.json is engineio_json else Packet.json
    return type("ChatPacket", (ChatPacket,), {"never_binary": JSON_LEAVES | frozenset(never_binary),
                                              "json": splicing(json_module)})
