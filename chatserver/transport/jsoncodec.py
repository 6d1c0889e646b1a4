"""JSON for Socket.IO packets: orjson where it can, the standard library where only it can.

Every event is decoded once and every emit encoded once, so the JSON module is a fifth of the
CPU of a one-to-one message (docs/performance.md). orjson does the same work in a fraction of
the time. What orjson refuses goes to python-engineio's JSON module, the one used before, so
it still works as before: ``NaN`` and ``Infinity``, lone surrogate escapes, keys that are not
strings, integers too large to encode. Two things differ, both as socket.io's own server does
them: non-ASCII text goes out as UTF-8 rather than ``\\uXXXX`` escapes (the same text to every
JSON parser, and shorter), and an incoming whole number beyond 64 bits is read as a float, as
JavaScript reads it (python-engineio refused one of more than 100 digits, whose parsing in
Python is slow; orjson parses it in linear time).
"""

from __future__ import annotations

import json
from typing import Any

import orjson
from engineio import json as engineio_json


def dumps(data: Any, **_options: Any) -> str:
    """``data`` as compact JSON text (python-socketio passes ``separators``; compact is what it asks for)."""
    try:
        return orjson.dumps(data).decode()
    except TypeError:  # orjson.JSONEncodeError is a TypeError
        return json.dumps(data, separators=(",", ":"))


def loads(text: str | bytes) -> Any:
    """The value of JSON ``text``; raises ValueError as python-engineio's ``loads`` does for what is not JSON."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return engineio_json.loads(text)
